// Torch glue for the element-wise neurons: soft-LIF rate (docs/math.md §3) and
// the FS neuron (docs/math.md §6). Schemas, argument checks, allocation and the
// choice of kernel; the math is in include/spikeops/.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>

#include "cpu_dispatch.h"
#include "elementwise_glue.h"

namespace spikeops {
namespace {

using at::Tensor;

void check_data(const Tensor& x, const char* name) { check_kernel_dtype(x, name, /*cuda_double=*/true); }

Tensor same_as(const Tensor& t, const Tensor& x, const char* name) {
  TORCH_CHECK(t.sizes() == x.sizes(), name, " must have x's shape ", x.sizes(), ", got ", t.sizes());
  TORCH_CHECK(t.device() == x.device(), name, " is on ", t.device(), " but x is on ", x.device());
  return t.to(x.scalar_type()).contiguous();
}

// ---------------------------------------------------------------- soft-LIF

SoftLifParams soft_lif_params(double tau_rc, double tau_ref, double smoothing, double gain, double amplitude) {
  TORCH_CHECK(std::isfinite(tau_rc) && tau_rc > 0, "tau_rc must be a finite number > 0, got ", tau_rc);
  TORCH_CHECK(std::isfinite(tau_ref) && tau_ref >= 0, "tau_ref must be a finite number >= 0, got ", tau_ref);
  TORCH_CHECK(std::isfinite(smoothing) && smoothing > 0, "smoothing (gamma) must be a finite number > 0, got ",
              smoothing);
  TORCH_CHECK(std::isfinite(gain) && gain > 0, "gain must be a finite number > 0, got ", gain);
  TORCH_CHECK(std::isfinite(amplitude), "amplitude must be finite, got ", amplitude);
  return SoftLifParams{tau_rc, tau_ref, smoothing, gain, amplitude};
}

void run_soft_lif(const SoftLifTensors& t) {
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(t.x)) return run_soft_lif_cuda(t);
#endif
  AT_DISPATCH_FLOATING_TYPES(t.x.scalar_type(), "soft_lif", [&] {
    using Args = SoftLifArgs<scalar_t>;
    // The vector kernels do either pass, by a.grad_out; the scalar ones are two.
    const CpuKernel<Args> scalar =
        t.grad_out.defined() ? cpu::soft_lif_backward<scalar_t> : cpu::soft_lif_forward<scalar_t>;
    const Args a = soft_lif_args<scalar_t>(t);
    run_cpu(kernels_for<Args>(scalar, cpu::soft_lif_avx2, cpu::soft_lif_avx512), a, a.n, 1, kElementWork);
  });
}

Tensor soft_lif_impl(const Tensor& x, double tau_rc, double tau_ref, double smoothing, double gain,
                     double amplitude) {
  check_data(x, "x");
  SoftLifTensors t{x.contiguous(), Tensor(), Tensor(), soft_lif_params(tau_rc, tau_ref, smoothing, gain, amplitude)};
  t.out = at::empty_like(t.x);
  run_soft_lif(t);
  return t.out;
}

Tensor soft_lif_backward_impl(const Tensor& grad_out, const Tensor& x, double tau_rc, double tau_ref,
                              double smoothing, double gain, double amplitude) {
  check_data(x, "x");
  SoftLifTensors t{x.contiguous(), Tensor(), Tensor(), soft_lif_params(tau_rc, tau_ref, smoothing, gain, amplitude)};
  t.grad_out = same_as(grad_out, t.x, "grad_out");
  t.out = at::empty_like(t.x);
  run_soft_lif(t);
  return t.out;
}

// ---------------------------------------------------------------- FS neuron

at::ScalarType fs_compute_dtype(const Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

Tensor fs_coef(const Tensor& c, const Tensor& x, const char* name) {
  TORCH_CHECK(c.dim() == 1, name, " must be a 1-d tensor of K per-step values, got shape ", c.sizes());
  TORCH_CHECK(c.numel() >= 1 && c.numel() <= kFsMaxSteps, name, " must have K in [1, ", kFsMaxSteps,
              "] values, got ", c.numel());
  TORCH_CHECK(at::isFloatingType(c.scalar_type()), name, " must be floating point, got ", c.scalar_type());
  TORCH_CHECK(c.device() == x.device(), name, " is on ", c.device(), " but x is on ", x.device());
  return c.to(fs_compute_dtype(x)).contiguous();
}

FsTensors fs_tensors(const Tensor& x, const Tensor& h, const Tensor& d, const Tensor& threshold, int64_t surrogate,
                     double sg_height, double sg_width) {
  check_data(x, "x");
  TORCH_CHECK(surrogate >= 0 && surrogate < kNumSurrogates &&
                  surrogate != static_cast<int64_t>(SurrogateKind::STDB),
              "surrogate must be one of atan, fast_sigmoid, sigmoid, triangle, rectangle (0-4), got ", surrogate);
  TORCH_CHECK(std::isfinite(sg_height) && std::isfinite(sg_width), "surrogate height and width must be finite");
  TORCH_CHECK(surrogate != static_cast<int64_t>(SurrogateKind::Triangle) || sg_width > 0,
              "the FS neuron's triangle surrogate needs an explicit width > 0");
  FsTensors t;
  t.x = x.contiguous();
  t.h = fs_coef(h, x, "h");
  t.d = fs_coef(d, x, "d");
  t.threshold = fs_coef(threshold, x, "threshold");
  TORCH_CHECK(t.d.numel() == t.h.numel() && t.threshold.numel() == t.h.numel(),
              "h, d and threshold must have the same number of steps K, got ", t.h.numel(), ", ", t.d.numel(),
              " and ", t.threshold.numel());
  t.sg = make_surrogate(static_cast<int32_t>(surrogate), static_cast<float>(sg_height), static_cast<float>(sg_width));
  return t;
}

std::tuple<Tensor, Tensor> fs_neuron_impl(const Tensor& x, const Tensor& h, const Tensor& d, const Tensor& threshold,
                                          int64_t surrogate, double sg_height, double sg_width, bool count_spikes) {
  FsTensors t = fs_tensors(x, h, d, threshold, surrogate, sg_height, sg_width);
  t.out = at::empty_like(t.x);
  t.spikes = count_spikes ? at::empty(t.x.sizes(), t.x.options().dtype(at::kByte))
                          : at::empty({0}, t.x.options().dtype(at::kByte));
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(t.x)) {
    run_fs_forward_cuda(t);
    return {t.out, t.spikes};
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(t.x.scalar_type(), "fs_neuron", [&] {
    using Args = FsArgs<scalar_t, scalar_t>;
    const Args a = fs_args<scalar_t, scalar_t>(t);
    run_cpu(kernels_for<Args>(cpu::fs_forward<scalar_t>, cpu::fs_forward_avx2, cpu::fs_forward_avx512), a, a.n, 1,
            kElementWork * a.K);
  });
  return {t.out, t.spikes};
}

// Writes dL/dx into t.out and, where t.grad_coef is defined, its [blocks, 3, K] partial sums.
void run_fs_backward(const FsTensors& t, int64_t blocks) {
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(t.x)) return run_fs_backward_cuda(t);
#endif
  AT_DISPATCH_FLOATING_TYPES(t.x.scalar_type(), "fs_neuron_backward", [&] {
    using Args = FsArgs<scalar_t, scalar_t>;
    const Args a = fs_args<scalar_t, scalar_t>(t);  // the kernels take ranges of kFsBlock-element blocks
    run_cpu(kernels_for<Args>(cpu::fs_backward<scalar_t>, cpu::fs_backward_avx2, cpu::fs_backward_avx512), a,
            blocks, 1, kElementWork * a.K * kFsBlock);
  });
}

std::tuple<Tensor, Tensor, Tensor, Tensor> fs_neuron_backward_impl(
    const Tensor& grad_out, const Tensor& x, const Tensor& h, const Tensor& d, const Tensor& threshold,
    int64_t surrogate, double sg_height, double sg_width, bool need_grad_coef) {
  FsTensors t = fs_tensors(x, h, d, threshold, surrogate, sg_height, sg_width);
  t.grad_out = same_as(grad_out, t.x, "grad_out");
  t.out = at::empty_like(t.x);
  const int64_t K = t.h.numel(), blocks = (t.x.numel() + kFsBlock - 1) / kFsBlock;
  if (need_grad_coef) t.grad_coef = at::empty({blocks, 3, K}, t.h.options());
  run_fs_backward(t, blocks);
  if (!need_grad_coef) {
    const auto opts = t.h.options();
    return {t.out, at::empty({0}, opts), at::empty({0}, opts), at::empty({0}, opts)};
  }
  const Tensor sums = t.grad_coef.sum(0);  // [3, K], a fixed reduction order
  return {t.out, sums[0].clone(), sums[1].clone(), sums[2].clone()};  // outputs must not alias
}

}  // namespace

SPIKEOPS_LIBRARY_FRAGMENT(SPIKEOPS_OPS, m) {
  m.def("soft_lif(Tensor x, float tau_rc, float tau_ref, float smoothing, float gain, float amplitude) -> Tensor");
  m.def(
      "soft_lif_backward(Tensor grad_out, Tensor x, float tau_rc, float tau_ref, float smoothing, float gain, "
      "float amplitude) -> Tensor");
  m.def(
      "fs_neuron(Tensor x, Tensor h, Tensor d, Tensor threshold, int surrogate, float sg_height, float sg_width, "
      "bool count_spikes) -> (Tensor out, Tensor spikes)");
  m.def(
      "fs_neuron_backward(Tensor grad_out, Tensor x, Tensor h, Tensor d, Tensor threshold, int surrogate, "
      "float sg_height, float sg_width, bool need_grad_coef) -> (Tensor grad_x, Tensor grad_h, Tensor grad_d, "
      "Tensor grad_threshold)");
}

SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CPU, m) {
  m.impl("soft_lif", &soft_lif_impl);
  m.impl("soft_lif_backward", &soft_lif_backward_impl);
  m.impl("fs_neuron", &fs_neuron_impl);
  m.impl("fs_neuron_backward", &fs_neuron_backward_impl);
}

#ifdef SPIKEOPS_WITH_CUDA
SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CUDA, m) {
  m.impl("soft_lif", &soft_lif_impl);
  m.impl("soft_lif_backward", &soft_lif_backward_impl);
  m.impl("fs_neuron", &fs_neuron_impl);
  m.impl("fs_neuron_backward", &fs_neuron_backward_impl);
}
#endif

}  // namespace spikeops
