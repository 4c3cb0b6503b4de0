// Torch glue for the fixed-point LIF (docs/math.md §8): schema, range checks of
// every argument (the chip's bit widths), allocation and the choice of kernel.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "cpu_dispatch.h"
#include "lif_glue.h"
#include "spikeops/lif_fixed.h"

namespace spikeops {
namespace {

using at::Tensor;

void check_int32(const Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kInt, name,
              " must be an int32 tensor (the fixed-point neuron takes integers), got ", t.scalar_type());
}

// Optional per-neuron int32 tensor of a_in's neuron shape, values in [lo, hi]:
// checked on the CPU, saturated on CUDA.
Tensor neuron_tensor(const c10::optional<Tensor>& t, const Tensor& a_in, const char* name, int64_t lo, int64_t hi,
                     bool scalar_ok = false) {
  if (!t.has_value() || !t->defined()) return Tensor();
  check_int32(*t, name);
  TORCH_CHECK(t->device() == a_in.device(), name, " is on ", t->device(), " but a_in is on ", a_in.device());
  const bool neuron_shape = t->sizes() == a_in.sizes().slice(1);
  TORCH_CHECK(neuron_shape || (scalar_ok && t->numel() == 1), name, " must have a_in's neuron shape ",
              a_in.sizes().slice(1), scalar_ok ? " or one element" : "", ", got ", t->sizes());
  if (uses_cuda_kernels(*t)) {
    // Checking would read device memory: a host sync, which also breaks CUDA
    // graph capture. Out-of-range values saturate to [lo, hi] instead.
    return t->clamp(lo, hi).contiguous();
  }
  if (t->numel() > 0) {
    const auto [mn, mx] = at::aminmax(*t);
    const int64_t low = mn.item<int64_t>(), high = mx.item<int64_t>();
    TORCH_CHECK(low >= lo && high <= hi, name, " values must lie in [", lo, ", ", hi, "], got [", low, ", ", high, "]");
  }
  return t->contiguous();
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lif_fixed_impl(
    const Tensor& a_in_, int64_t du, int64_t dv, int64_t vth_mant, const c10::optional<Tensor>& bias_mant,
    int64_t bias_exp, int64_t refractory, c10::string_view reset, bool du_plus_one, const c10::optional<Tensor>& u0,
    const c10::optional<Tensor>& v0, const c10::optional<Tensor>& r0, bool return_states) {
  check_int32(a_in_, "a_in");
  TORCH_CHECK(a_in_.dim() >= 1 && a_in_.size(0) >= 1, "a_in must be [T, ...] with T >= 1, got shape ", a_in_.sizes());
  TORCH_CHECK(a_in_.device().is_cpu() || a_in_.device().is_cuda(), "a_in is on ", a_in_.device(),
              "; spikeops has kernels for CPU and CUDA tensors");
  const int64_t du_max = du_plus_one ? kDecayOne - 1 : kDecayOne;
  TORCH_CHECK(du >= 0 && du <= du_max, "du (current decay) must lie in [0, ", du_max, "]",
              du_plus_one ? " with du_plus_one (the effective decay is du + 1)" : "", ", got ", du);
  TORCH_CHECK(dv >= 0 && dv <= kDecayOne, "dv (voltage decay) must lie in [0, 4096], got ", dv);
  TORCH_CHECK(vth_mant >= 0 && vth_mant <= kThresholdMantissaMax,
              "vth_mant (threshold mantissa) must fit in 17 bits, [0, 131071], got ", vth_mant);
  TORCH_CHECK(bias_exp >= 0 && bias_exp <= kBiasExponentMax, "bias_exp must lie in [0, 7], got ", bias_exp);
  TORCH_CHECK(refractory >= 0 && refractory <= (1 << 30), "refractory (steps) must lie in [0, 2^30], got ",
              refractory);
  TORCH_CHECK(reset == "zero" || reset == "subtract", "reset must be 'zero' or 'subtract', got '", std::string(reset),
              "'");
  const Tensor a_in = a_in_.contiguous();
  const Tensor bias = neuron_tensor(bias_mant, a_in, "bias_mant", kBiasMantissaMin, kBiasMantissaMax, true);
  const Tensor u_init = neuron_tensor(u0, a_in, "u0", -(kStateMax + 1), kStateMax);
  const Tensor v_init = neuron_tensor(v0, a_in, "v0", -kStateMax, kStateMax);
  const Tensor r_init = neuron_tensor(r0, a_in, "r0", 0, refractory);

  const auto neuron_shape = a_in.sizes().slice(1);
  const auto int_opts = a_in.options();
  Tensor spikes = at::empty(a_in.sizes(), int_opts.dtype(at::kByte));
  Tensor u_out = at::empty(neuron_shape, int_opts), v_out = at::empty(neuron_shape, int_opts);
  Tensor r_out = at::empty(neuron_shape, int_opts);
  Tensor u_seq = return_states ? at::empty(a_in.sizes(), int_opts) : at::empty({0}, int_opts);
  Tensor v_seq = return_states ? at::empty(a_in.sizes(), int_opts) : at::empty({0}, int_opts);

  LifFixedArgs a{};
  a.T = a_in.size(0);
  a.N = a.T ? a_in.numel() / a.T : 0;
  a.a_in = a_in.data_ptr<int32_t>();
  a.bias_mant = bias.defined() ? bias.data_ptr<int32_t>() : nullptr;
  a.bias_stride = bias.defined() && bias.numel() == a.N ? 1 : 0;
  a.bias_exp = static_cast<int32_t>(bias_exp);
  a.u0 = u_init.defined() ? u_init.data_ptr<int32_t>() : nullptr;
  a.v0 = v_init.defined() ? v_init.data_ptr<int32_t>() : nullptr;
  a.r0 = r_init.defined() ? r_init.data_ptr<int32_t>() : nullptr;
  a.spikes = spikes.data_ptr<uint8_t>();
  a.u_seq = return_states ? u_seq.data_ptr<int32_t>() : nullptr;
  a.v_seq = return_states ? v_seq.data_ptr<int32_t>() : nullptr;
  a.u_out = u_out.data_ptr<int32_t>();
  a.v_out = v_out.data_ptr<int32_t>();
  a.r_out = r_out.data_ptr<int32_t>();
  a.p = LifFixedParams{static_cast<int32_t>(kDecayOne - du - (du_plus_one ? 1 : 0)),
                       static_cast<int32_t>(kDecayOne - dv), static_cast<int32_t>(vth_mant << kActivationShift),
                       static_cast<int32_t>(refractory), reset == "subtract"};
  if (a.N > 0) {
#ifdef SPIKEOPS_CUDA_KERNELS
    if (uses_cuda_kernels(a_in)) {
      run_lif_fixed_cuda(a, a_in);
      return {spikes, u_out, v_out, r_out, u_seq, v_seq};
    }
#endif
    TORCH_CHECK(a_in.device().is_cpu(), "this spikeops build has no CUDA kernels; a_in is on ", a_in.device());
    run_cpu(CpuKernels<LifFixedArgs>{cpu::lif_fixed_scalar, cpu::lif_fixed_avx2, cpu::lif_fixed_avx512}, a, a.N,
            cpu::kNeuronBlock, a.T);
  }
  return {spikes, u_out, v_out, r_out, u_seq, v_seq};
}

}  // namespace

SPIKEOPS_LIBRARY_FRAGMENT(SPIKEOPS_OPS, m) {
  m.def(
      "lif_fixed(Tensor a_in, int du, int dv, int vth_mant, Tensor? bias_mant, int bias_exp, int refractory, "
      "str reset, bool du_plus_one, Tensor? u0, Tensor? v0, Tensor? r0, bool return_states) -> "
      "(Tensor spikes, Tensor u, Tensor v, Tensor r, Tensor u_seq, Tensor v_seq)");
}

SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CPU, m) { m.impl("lif_fixed", &lif_fixed_impl); }

#ifdef SPIKEOPS_WITH_CUDA
SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CUDA, m) { m.impl("lif_fixed", &lif_fixed_impl); }
#endif

}  // namespace spikeops
