// Torch glue for the fixed-point LIF (docs/math.md §8): schema, range checks of
// every argument (the chip's bit widths), allocation and the choice of kernel.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "arg_checks.h"
#include "cpu_dispatch.h"
#include "lif_glue.h"
#include "output_cache.h"
#include "spikeops/lif_fixed.h"

namespace spikeops {
namespace {

using at::Tensor;

// Optional per-neuron int32 tensor of a_in's neuron shape, values in [lo, hi]:
// checked on the CPU, saturated on CUDA.
Tensor neuron_tensor(const c10::optional<Tensor>& t, const Tensor& a_in, const char* name, int64_t lo, int64_t hi,
                     bool scalar_ok = false) {
  if (!t.has_value() || !t->defined()) return Tensor();
  check_dtype(*t, at::kInt, name);
  check_same_device(*t, a_in, name, "a_in");
  const bool neuron_shape = t->sym_sizes() == a_in.sym_sizes().slice(1);
  TORCH_CHECK_VALUE(neuron_shape || (scalar_ok && t->sym_numel() == 1), name, " must have a_in's neuron shape ",
                    a_in.sym_sizes().slice(1), scalar_ok ? " or one element" : "", ", got ", t->sym_sizes());
  if (t->is_meta()) return *t;
  if (uses_cuda_kernels(*t)) {
    // Checking would read device memory: a host sync, which also breaks CUDA
    // graph capture. Out-of-range values saturate to [lo, hi] instead.
    return t->clamp(lo, hi).contiguous();
  }
  if (t->numel() > 0) {
    const auto [mn, mx] = at::aminmax(*t);
    const int64_t low = mn.item<int64_t>(), high = mx.item<int64_t>();
    TORCH_CHECK_VALUE(low >= lo && high <= hi, name, " values must lie in [", lo, ", ", hi, "], got [", low, ", ", high, "]");
  }
  return t->contiguous();
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lif_fixed_impl(
    const Tensor& a_in_, int64_t du, int64_t dv, int64_t vth_mant, const c10::optional<Tensor>& bias_mant,
    int64_t bias_exp, int64_t refractory, c10::string_view reset, bool du_plus_one, const c10::optional<Tensor>& u0,
    const c10::optional<Tensor>& v0, const c10::optional<Tensor>& r0, bool return_states) {
  check_dtype(a_in_, at::kInt, "a_in");
  check_time_major(a_in_, "a_in");
  TORCH_CHECK_VALUE(a_in_.device().is_cpu() || a_in_.device().is_cuda() || a_in_.is_meta(), "a_in is on ", a_in_.device(),
                    "; spikeops has kernels for CPU and CUDA tensors");
  check_int_range(du, du_plus_one ? "du (current decay; du_plus_one adds 1)" : "du (current decay)", 0,
                  du_plus_one ? kDecayOne - 1 : kDecayOne);
  check_int_range(dv, "dv (voltage decay)", 0, kDecayOne);
  check_int_range(vth_mant, "vth_mant (17-bit threshold mantissa)", 0, kThresholdMantissaMax);
  check_int_range(bias_exp, "bias_exp", 0, kBiasExponentMax);
  check_int_range(refractory, "refractory (steps)", 0, 1 << 30);
  TORCH_CHECK_VALUE(reset == "zero" || reset == "subtract", "reset must be 'zero' or 'subtract', got '",
                    std::string(reset), "'");
  const Tensor a_in = a_in_.contiguous();
  const Tensor bias = neuron_tensor(bias_mant, a_in, "bias_mant", kBiasMantissaMin, kBiasMantissaMax, true);
  const Tensor u_init = neuron_tensor(u0, a_in, "u0", -(kStateMax + 1), kStateMax);
  const Tensor v_init = neuron_tensor(v0, a_in, "v0", -kStateMax, kStateMax);
  const Tensor r_init = neuron_tensor(r0, a_in, "r0", 0, refractory);

  // SymInt shapes: this is also the op's meta kernel (see lif_ops.cpp).
  const auto sizes = a_in.sym_sizes(), neuron_shape = sizes.slice(1);
  const auto int_opts = a_in.options();
  Tensor spikes = empty_output(sizes, int_opts.dtype(at::kByte));
  Tensor u_out = at::empty_symint(neuron_shape, int_opts), v_out = at::empty_symint(neuron_shape, int_opts);
  Tensor r_out = at::empty_symint(neuron_shape, int_opts);
  Tensor u_seq = return_states ? empty_output(sizes, int_opts) : at::empty({0}, int_opts);
  Tensor v_seq = return_states ? empty_output(sizes, int_opts) : at::empty({0}, int_opts);
  if (a_in.is_meta()) return {spikes, u_out, v_out, r_out, u_seq, v_seq};

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
    TORCH_CHECK_VALUE(a_in.device().is_cpu(), "this spikeops build has no CUDA kernels; a_in is on ", a_in.device());
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

void register_lif_fixed_impls(torch::Library& m) { m.impl("lif_fixed", &lif_fixed_impl); }

SPIKEOPS_IMPL_EVERY_KEY(register_lif_fixed_impls)

}  // namespace spikeops
