// Shared by the CPU and CUDA glue of the element-wise neurons (soft-LIF, FS):
// the checked, allocated tensors of one call and their args structs.
#pragma once

#include "lif_glue.h"
#include "spikeops/fs_neuron.h"
#include "spikeops/soft_lif.h"

namespace spikeops {

// out = rate(x), or out = grad_out * rate'(x) when grad_out is defined.
struct SoftLifTensors {
  at::Tensor x, grad_out, out;
  SoftLifParams p;
};

// Forward: out, spikes (optional). Backward: grad_out given, out = dL/dx,
// grad_coef (optional) = [blocks, 3, K] partial sums. h, d, threshold: [K] in
// the compute dtype on x's device.
struct FsTensors {
  at::Tensor x, grad_out, h, d, threshold, out, spikes, grad_coef;
  SurrogateParamsOf<double> sg;
};

template <class S>
SoftLifArgs<S> soft_lif_args(const SoftLifTensors& t) {
  SoftLifArgs<S> a;
  a.x = data_or_null<const S>(t.x);
  a.grad_out = data_or_null<const S>(t.grad_out);
  a.out = data_or_null<S>(t.out);
  a.n = t.x.numel();
  a.p = t.p;
  return a;
}

template <class S, class F>
FsArgs<S, F> fs_args(const FsTensors& t) {
  FsArgs<S, F> a;
  a.x = data_or_null<const S>(t.x);
  a.grad_out = data_or_null<const S>(t.grad_out);
  a.h = data_or_null<const F>(t.h);
  a.d = data_or_null<const F>(t.d);
  a.threshold = data_or_null<const F>(t.threshold);
  a.out = data_or_null<S>(t.out);
  a.spikes = data_or_null<uint8_t>(t.spikes);
  a.grad_coef = data_or_null<F>(t.grad_coef);
  a.n = t.x.numel();
  a.K = static_cast<int32_t>(t.h.numel());
  a.sg = surrogate_as<F>(t.sg);
  return a;
}

#ifdef SPIKEOPS_CUDA_KERNELS
// Defined in ops_cuda.cpp.
void run_soft_lif_cuda(const SoftLifTensors& t);
void run_fs_forward_cuda(const FsTensors& t);
void run_fs_backward_cuda(const FsTensors& t);
#endif

}  // namespace spikeops
