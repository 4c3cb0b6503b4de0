// Torch glue for the LIF with spike times inside the step (docs/math.md §3):
// schema, argument checks, allocation and the choice of kernel. float32 only.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <tuple>

#include "arg_checks.h"
#include "cpu_dispatch.h"
#include "lif_glue.h"
#include "output_cache.h"
#include "spikeops/lif_substep.h"

namespace spikeops {
namespace {

using at::Tensor;

// An optional float32 per-neuron state tensor of j's neuron shape.
Tensor state_tensor(const c10::optional<Tensor>& t, const Tensor& j, const char* name) {
  if (!t.has_value() || !t->defined()) return Tensor();
  check_dtype(*t, at::kFloat, name);
  check_same_device(*t, j, name, "j");
  TORCH_CHECK_VALUE(t->sym_sizes() == j.sym_sizes().slice(1), name, " must have j's neuron shape ",
                    j.sym_sizes().slice(1), ", got ", t->sym_sizes());
  return t->contiguous();
}

std::tuple<Tensor, Tensor, Tensor> lif_substep_impl(const Tensor& j_in, const c10::optional<Tensor>& v0,
                                                    const c10::optional<Tensor>& r0, double dt, double tau_rc,
                                                    double tau_ref, double min_voltage, double amplitude) {
  check_dtype(j_in, at::kFloat, "j");
  check_time_major(j_in, "j");
  TORCH_CHECK_VALUE(j_in.device().is_cpu() || j_in.device().is_cuda() || j_in.is_meta(), "j is on ", j_in.device(),
                    "; spikeops has kernels for CPU and CUDA tensors");
  constexpr Interval positive{0.0, INFINITY, true, true};
  check_range(dt, "dt", positive);
  check_range(tau_rc, "tau_rc", positive);
  check_range(tau_ref, "tau_ref", Interval{0.0, INFINITY, false, true});
  check_range(min_voltage, "min_voltage", Interval{-INFINITY, 0.0});
  check_range(amplitude, "amplitude", positive);
  const Tensor j = j_in.contiguous();
  const Tensor v_init = state_tensor(v0, j, "v0 (initial membrane)");
  const Tensor r_init = state_tensor(r0, j, "r0 (initial refractory time)");

  // SymInt shapes: this is also the op's meta kernel (see lif_ops.cpp).
  const auto sizes = j.sym_sizes();
  Tensor spikes = empty_output(sizes, j.options());
  Tensor v_out = at::empty_symint(sizes.slice(1), j.options());
  Tensor r_out = at::empty_symint(sizes.slice(1), j.options());
  if (j.is_meta()) return {spikes, v_out, r_out};

  LifSubstepArgs a{};
  a.T = j.size(0);
  a.N = j.numel() / a.T;
  a.j = j.data_ptr<float>();
  a.v0 = v_init.defined() ? v_init.data_ptr<float>() : nullptr;
  a.r0 = r_init.defined() ? r_init.data_ptr<float>() : nullptr;
  a.spikes = spikes.data_ptr<float>();
  a.v_out = v_out.data_ptr<float>();
  a.r_out = r_out.data_ptr<float>();
  a.p = lif_substep_params(static_cast<float>(dt), static_cast<float>(tau_rc), static_cast<float>(tau_ref),
                           static_cast<float>(min_voltage), static_cast<float>(amplitude / dt));
  if (a.N == 0) return {spikes, v_out, r_out};
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(j)) {
    run_lif_substep_cuda(a, j);
    return {spikes, v_out, r_out};
  }
#endif
  TORCH_CHECK_VALUE(j.device().is_cpu(), "this spikeops build has no CUDA kernels; j is on ", j.device());
  run_cpu(CpuKernels<LifSubstepArgs>{cpu::lif_substep_scalar, cpu::lif_substep_avx2, cpu::lif_substep_avx512}, a,
          a.N, cpu::kNeuronBlock, a.T * kElementWork);
  return {spikes, v_out, r_out};
}

void register_lif_substep_impls(torch::Library& m) { m.impl("lif_substep", &lif_substep_impl); }

}  // namespace

SPIKEOPS_LIBRARY_FRAGMENT(SPIKEOPS_OPS, m) {
  m.def(
      "lif_substep(Tensor j, Tensor? v0, Tensor? r0, float dt, float tau_rc, float tau_ref, float min_voltage, "
      "float amplitude) -> (Tensor spikes, Tensor v, Tensor r)");
}

SPIKEOPS_IMPL_EVERY_KEY(register_lif_substep_impls)

}  // namespace spikeops
