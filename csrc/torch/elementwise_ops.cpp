// Torch glue for the element-wise neurons: soft-LIF rate (docs/math.md §3) and
// the FS neuron (docs/math.md §6). Schemas, argument checks, allocation and the
// choice of kernel; the math is in include/spikeops/.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/util/ParallelGuard.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>

#include "arg_checks.h"
#include "cpu_dispatch.h"
#include "elementwise_glue.h"
#include "output_cache.h"

namespace spikeops {
namespace {

using at::Tensor;

void check_data(const Tensor& x, const char* name) {
  check_kernel_dtype(x, name, /*cuda_double=*/true, /*cpu_16bit=*/true);
}

// 16-bit data on the CPU runs the float32 kernels on the widened values, each output
// rounded to nearest even: the CUDA kernels' float32 arithmetic and rounding
// (docs/math.md §9). These neurons are compute-bound, so the conversions cost little.
bool widened_on_cpu(const Tensor& x) {
  const auto dtype = x.scalar_type();
  return !x.is_meta() && x.device().is_cpu() && !uses_cuda_kernels(x) &&
         (dtype == at::kHalf || dtype == at::kBFloat16);
}

Tensor same_as(const Tensor& t, const Tensor& x, const char* name) {
  TORCH_CHECK_VALUE(t.sym_sizes() == x.sym_sizes(), name, " must have x's shape ", x.sym_sizes(), ", got ",
                    t.sym_sizes());
  check_same_device(t, x, name, "x");
  check_floating(t, name);
  return t.to(x.scalar_type()).contiguous();
}

// ---------------------------------------------------------------- soft-LIF

SoftLifParams soft_lif_params(double tau_rc, double tau_ref, double smoothing, double gain, double amplitude) {
  constexpr Interval positive{0.0, INFINITY, true, true}, non_negative{0.0, INFINITY, false, true};
  check_range(tau_rc, "tau_rc", positive);
  check_range(tau_ref, "tau_ref", non_negative);
  check_range(smoothing, "smoothing", positive);
  check_range(gain, "gain", positive);
  check_range(amplitude, "amplitude", kFiniteValues);
  return SoftLifParams{tau_rc, tau_ref, smoothing, gain, amplitude};
}

void run_soft_lif(const SoftLifTensors& t) {
  if (t.x.is_meta()) return;
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
  if (widened_on_cpu(x))
    return soft_lif_impl(x.to(at::kFloat), tau_rc, tau_ref, smoothing, gain, amplitude).to(x.scalar_type());
  SoftLifTensors t{x.contiguous(), Tensor(), Tensor(), soft_lif_params(tau_rc, tau_ref, smoothing, gain, amplitude)};
  t.out = empty_output(t.x.sym_sizes(), t.x.options());
  run_soft_lif(t);
  return t.out;
}

Tensor soft_lif_backward_impl(const Tensor& grad_out, const Tensor& x, double tau_rc, double tau_ref,
                              double smoothing, double gain, double amplitude) {
  check_data(x, "x");
  if (widened_on_cpu(x))
    return soft_lif_backward_impl(same_as(grad_out, x, "grad_out").to(at::kFloat), x.to(at::kFloat), tau_rc,
                                  tau_ref, smoothing, gain, amplitude)
        .to(x.scalar_type());
  SoftLifTensors t{x.contiguous(), Tensor(), Tensor(), soft_lif_params(tau_rc, tau_ref, smoothing, gain, amplitude)};
  t.grad_out = same_as(grad_out, t.x, "grad_out");
  t.out = empty_output(t.x.sym_sizes(), t.x.options());
  run_soft_lif(t);
  return t.out;
}

// ---------------------------------------------------------------- FS neuron

at::ScalarType fs_compute_dtype(const Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

Tensor fs_coef(const Tensor& c, const Tensor& x, const char* name) {
  TORCH_CHECK_VALUE(c.dim() == 1, name, " must be a 1-d tensor of K per-step values, got shape ", c.sym_sizes());
  TORCH_CHECK_VALUE(c.sym_numel() >= 1 && c.sym_numel() <= kFsMaxSteps, name, " must have K in [1, ", kFsMaxSteps,
                    "] values, got ", c.sym_numel());
  check_floating(c, name);
  check_same_device(c, x, name, "x");
  return c.to(fs_compute_dtype(x)).contiguous();
}

FsTensors fs_tensors(const Tensor& x, const Tensor& h, const Tensor& d, const Tensor& threshold, int64_t surrogate,
                     double sg_height, double sg_width) {
  check_data(x, "x");
  const auto sg = surrogate_arg(surrogate, sg_height, sg_width);
  TORCH_CHECK_VALUE(!uses_spike_ages(sg.kind),
                    "surrogate: the stdb surrogate needs spike ages, which the FS neuron does not have");
  TORCH_CHECK_VALUE(sg.kind != SurrogateKind::Linear,
                    "surrogate: the linear surrogate scales with a positive threshold; the FS neuron's per-step "
                    "thresholds may be any sign (use triangle with a width)");
  TORCH_CHECK_VALUE(sg.kind != SurrogateKind::Triangle || sg_width > 0,
                    "surrogate: the FS neuron's triangle surrogate needs an explicit width > 0");
  FsTensors t;
  t.x = x.contiguous();
  t.h = fs_coef(h, x, "h");
  t.d = fs_coef(d, x, "d");
  t.threshold = fs_coef(threshold, x, "threshold");
  TORCH_CHECK_VALUE(t.d.sym_numel() == t.h.sym_numel() && t.threshold.sym_numel() == t.h.sym_numel(),
                    "h, d and threshold must have the same number of steps K, got ", t.h.sym_numel(), ", ",
                    t.d.sym_numel(), " and ", t.threshold.sym_numel());
  t.sg = sg;
  return t;
}

std::tuple<Tensor, Tensor> fs_neuron_impl(const Tensor& x, const Tensor& h, const Tensor& d, const Tensor& threshold,
                                          int64_t surrogate, double sg_height, double sg_width, bool count_spikes) {
  if (widened_on_cpu(x)) {
    check_data(x, "x");
    auto [out, spikes] = fs_neuron_impl(x.to(at::kFloat), h, d, threshold, surrogate, sg_height, sg_width,
                                        count_spikes);
    return {out.to(x.scalar_type()), spikes};
  }
  FsTensors t = fs_tensors(x, h, d, threshold, surrogate, sg_height, sg_width);
  t.out = empty_output(t.x.sym_sizes(), t.x.options());
  t.spikes = count_spikes ? empty_output(t.x.sym_sizes(), t.x.options().dtype(at::kByte))
                          : at::empty({0}, t.x.options().dtype(at::kByte));
  if (t.x.is_meta()) return {t.out, t.spikes};
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
void run_fs_backward(const FsTensors& t) {
  if (t.x.is_meta()) return;
  const int64_t blocks = (t.x.numel() + kFsBlock - 1) / kFsBlock;
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
  if (widened_on_cpu(x)) {
    check_data(x, "x");
    auto [grad_x, grad_h, grad_d, grad_threshold] =
        fs_neuron_backward_impl(same_as(grad_out, x, "grad_out").to(at::kFloat), x.to(at::kFloat), h, d, threshold,
                                surrogate, sg_height, sg_width, need_grad_coef);
    return {grad_x.to(x.scalar_type()), grad_h, grad_d, grad_threshold};
  }
  FsTensors t = fs_tensors(x, h, d, threshold, surrogate, sg_height, sg_width);
  t.grad_out = same_as(grad_out, t.x, "grad_out");
  t.out = empty_output(t.x.sym_sizes(), t.x.options());
  const c10::SymInt K = t.h.sym_numel(), blocks = (t.x.sym_numel() + kFsBlock - 1) / kFsBlock;
  if (need_grad_coef) t.grad_coef = at::empty_symint({blocks, 3, K}, t.h.options());
  run_fs_backward(t);
  if (!need_grad_coef) {
    const auto opts = t.h.options();
    return {t.out, at::empty({0}, opts), at::empty({0}, opts), at::empty({0}, opts)};
  }
  c10::ParallelGuard serial(true);  // summed as on one thread: the same bits for any thread count
  const Tensor sums = t.grad_coef.sum(0);  // [3, K]
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

void register_elementwise_impls(torch::Library& m) {
  m.impl("soft_lif", &soft_lif_impl);
  m.impl("soft_lif_backward", &soft_lif_backward_impl);
  m.impl("fs_neuron", &fs_neuron_impl);
  m.impl("fs_neuron_backward", &fs_neuron_backward_impl);
}

SPIKEOPS_IMPL_EVERY_KEY(register_elementwise_impls)

}  // namespace spikeops
