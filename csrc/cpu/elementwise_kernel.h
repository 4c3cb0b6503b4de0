// The float32 element-wise neuron loops (soft-LIF, FS forward) over an ISA
// policy (lif_kernel.h's): full vectors, then scalar lanes computing the same
// IEEE operations. Included once by each vector ISA's translation unit.
#pragma once

#include "lif_kernel.h"
#include "spikeops/fs_neuron.h"
#include "spikeops/soft_lif.h"

namespace spikeops::cpu {
namespace {

// out = rate(x), or out = grad_out * rate'(x) when a.grad_out is set.
template <class I>
void soft_lif_range(const SoftLifArgs<float>& a, int64_t begin, int64_t end) {
  for_each_lane<I, float>(end - begin, [&]<class P>(int64_t i) {
    using V = typename P::V;
    const int64_t k = begin + i;
    if (a.grad_out) {
      V slope;
      soft_lif_rate<V>(P::load(a.x + k), a.p, &slope);
      P::store(a.out + k, P::load(a.grad_out + k) * slope);
    } else {
      P::store(a.out + k, soft_lif_rate<V>(P::load(a.x + k), a.p, nullptr));
    }
  });
}

// out = FS output of x; a.spikes (optional) = spikes per element.
template <class I>
void fs_forward_range(const FsArgs<float, float>& a, int64_t begin, int64_t end) {
  for_each_lane<I, float>(end - begin, [&]<class P>(int64_t i) {
    using V = typename P::V;
    const int64_t k = begin + i;
    V spikes(0.0f);
    P::store(a.out + k, fs_output(P::load(a.x + k), a.K, a.h, a.d, a.threshold, &spikes));
    if (a.spikes) P::store_u8(a.spikes + k, spikes);
  });
}

}  // namespace
}  // namespace spikeops::cpu
