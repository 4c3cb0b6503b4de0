// Shared by the CPU and CUDA glue: the tensors of one forward or backward call,
// already checked and allocated, and how they become a kernel's args struct.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "op_library.h"
#include "spikeops/lif_args.h"
#include "spikeops/lif_fixed.h"
#include "spikeops/lif_substep.h"

namespace spikeops {

// A call's settings as the glue checks them, with every constant in double; each
// kernel's args carry them in its state type (config_as).
using LifSettings = LifConfigOf<double>;

// Absent optional tensors are undefined or empty. Parameters are prepared by
// the glue: a CPU tensor of one element (read on the host), or a device tensor
// of the state dtype with one element or one per neuron.
struct ForwardTensors {
  at::Tensor x, v0, r0, a0, alpha, gamma, theta;
  at::Tensor spikes, v_out, r_out, a_out, ages, saved_h, saved_age;
  at::Tensor spike_words;  // the spikes as bits too (CPU), rows of spike_row neurons; optional
  int64_t spike_row = 0;
};

struct BackwardTensors {
  at::Tensor grad_spikes, grad_v, saved_h, saved_age, x, v0, a0, alpha, gamma, theta;
  at::Tensor grad_x, grad_v0, grad_alpha, grad_gamma, grad_theta;
};

template <class F>
ParamRef<F> param_ref(const at::Tensor& p) {
  if (p.device().is_cpu() && p.numel() == 1) return {nullptr, 0, static_cast<F>(p.item<double>())};
  return {static_cast<const F*>(p.data_ptr()), p.numel() == 1 ? 0 : 1, F(0)};
}

// The fields the forward and backward args share: parameters, age_init, config.
template <class F, class Args, class Tensors>
void set_common(Args& a, const Tensors& t, const LifSettings& cfg, int64_t age_init) {
  a.alpha = param_ref<F>(t.alpha);
  a.gamma = param_ref<F>(t.gamma);
  a.theta = param_ref<F>(t.theta);
  a.age_init = static_cast<int32_t>(age_init);
  a.cfg = config_as<F>(cfg);
}

template <class S, class F>
LifForwardArgs<S, F> forward_args(const ForwardTensors& t, const LifSettings& cfg, int64_t age_init) {
  LifForwardArgs<S, F> a{};
  a.T = t.x.size(0);
  a.N = t.x.numel() / a.T;
  a.x = data_or_null<const S>(t.x);
  a.spikes = data_or_null<S>(t.spikes);
  a.saved_h = data_or_null<S>(t.saved_h);
  a.saved_age = data_or_null<uint16_t>(t.saved_age);
  a.ages = data_or_null<int32_t>(t.ages);
  a.spike_words = data_or_null<uint64_t>(t.spike_words);
  a.spike_row = t.spike_row;
  a.v0 = data_or_null<const F>(t.v0);
  a.r0 = cfg.refractory > 0 ? data_or_null<const int32_t>(t.r0) : nullptr;
  a.a0 = cfg.track_age ? data_or_null<const int32_t>(t.a0) : nullptr;
  a.v_out = data_or_null<F>(t.v_out);
  a.r_out = data_or_null<int32_t>(t.r_out);
  a.a_out = data_or_null<int32_t>(t.a_out);
  set_common<F>(a, t, cfg, age_init);
  return a;
}

template <class S, class F>
LifBackwardArgs<S, F> backward_args(const BackwardTensors& t, const LifSettings& cfg, int64_t age_init) {
  LifBackwardArgs<S, F> a{};
  a.T = t.saved_h.size(0);
  a.N = t.saved_h.numel() / a.T;
  a.grad_spikes = data_or_null<const S>(t.grad_spikes);
  a.grad_v = data_or_null<const F>(t.grad_v);
  a.saved_h = data_or_null<const S>(t.saved_h);
  a.saved_age = data_or_null<const uint16_t>(t.saved_age);
  a.x = data_or_null<const S>(t.x);
  a.v0 = data_or_null<const F>(t.v0);
  a.a0 = data_or_null<const int32_t>(t.a0);
  a.grad_x = data_or_null<S>(t.grad_x);
  a.grad_v0 = data_or_null<F>(t.grad_v0);
  a.grad_alpha = data_or_null<F>(t.grad_alpha);
  a.grad_gamma = data_or_null<F>(t.grad_gamma);
  a.grad_theta = data_or_null<F>(t.grad_theta);
  set_common<F>(a, t, cfg, age_init);
  return a;
}

#ifdef SPIKEOPS_CUDA_KERNELS
// Defined in ops_cuda.cpp: launch the CUDA kernels on the current stream.
void run_forward_cuda(const ForwardTensors& t, const LifSettings& cfg, int64_t age_init);
void run_backward_cuda(const BackwardTensors& t, const LifSettings& cfg, int64_t age_init);
// The fixed-point LIF (lif_fixed_ops.cpp) on the current stream of like's device.
void run_lif_fixed_cuda(const LifFixedArgs& a, const at::Tensor& like);
// The LIF with spike times inside the step (lif_substep_ops.cpp).
void run_lif_substep_cuda(const LifSubstepArgs& a, const at::Tensor& like);
#endif

}  // namespace spikeops
