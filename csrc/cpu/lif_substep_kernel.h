// The blocked CPU driver of the LIF with spike times inside the step, over a
// float ISA policy I (lif_kernel.h's). Neurons go in blocks of kNeuronBlock whose
// state stays in L1 while every step's row of the [T, N] buffers streams
// through; lanes left at a block's end take the scalar policy, which computes the
// same IEEE operations. Each ISA's translation unit includes this once.
#pragma once

#include <algorithm>
#include <cstdint>

#include "lif_kernel.h"
#include "spikeops/lif_substep.h"

namespace spikeops::cpu {
namespace {

template <class I>
void lif_substep_block(const LifSubstepArgs& a, int64_t n0, int64_t count) {
  float* v = a.v_out + n0;
  float* r = a.r_out + n0;
  for (int64_t i = 0; i < count; ++i) {
    v[i] = a.v0 ? a.v0[n0 + i] : 0.0f;
    r[i] = a.r0 ? a.r0[n0 + i] : 0.0f;
  }
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t row = t * a.N + n0;
    for_each_lane<I, float>(count, [&]<class P>(int64_t i) {
      using V = typename P::V;
      V vv = P::load(v + i), rr = P::load(r + i);
      const Mask<V> spike = lif_substep_step(P::load(a.j + row + i), a.p, vv, rr);
      P::store(a.spikes + row + i, select(spike, V(a.p.spike_value), V(0.0f)));
      P::store(v + i, vv);
      P::store(r + i, rr);
    });
  }
}

template <class I>
void lif_substep_range(const LifSubstepArgs& a, int64_t n_begin, int64_t n_end) {
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kNeuronBlock)
    lif_substep_block<I>(a, n0, std::min(kNeuronBlock, n_end - n0));
}

}  // namespace
}  // namespace spikeops::cpu
