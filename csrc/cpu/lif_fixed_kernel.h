// The blocked CPU driver of the fixed-point LIF kernel, generic over an int32
// ISA policy I: I::V, I::kWidth, load/store (int32), store_spikes (uint8 from a
// mask). Each ISA's translation unit includes this once (internal linkage, so
// code built with one ISA's flags never stands in for another's).
//
// As for the float kernels, neurons go in blocks of kNeuronBlock whose state
// stays in L1 while every step's row of the [T, N] buffers streams through;
// lanes left at a block's end take the scalar policy. Integer arithmetic makes
// every ISA's result identical.
#pragma once

#include <algorithm>
#include <cstdint>

#include "spikeops/cpu.h"
#include "spikeops/lif_fixed.h"

namespace spikeops::cpu {
namespace {

struct ScalarIntIsa {
  using V = int32_t;
  static constexpr int64_t kWidth = 1;
  static V load(const int32_t* p) { return *p; }
  static void store(int32_t* p, V v) { *p = v; }
  static void store_spikes(uint8_t* p, bool m) { *p = m ? 1 : 0; }
};

template <class I>
void lif_fixed_block(const LifFixedArgs& a, int64_t n0, int64_t count) {
  alignas(64) int32_t bias[kNeuronBlock];
  int32_t* u = a.u_out + n0;
  int32_t* v = a.v_out + n0;
  int32_t* r = a.r_out + n0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = n0 + i;
    u[i] = a.u0 ? a.u0[n] : 0;
    v[i] = a.v0 ? a.v0[n] : 0;
    r[i] = a.r0 ? a.r0[n] : 0;
    bias[i] = lif_fixed_bias(a, n);
  }
  const bool refractory = a.p.refractory > 0;  // else r stays 0
  auto step = [&]<class P>(int64_t t, int64_t i) {
    using V = typename P::V;
    const int64_t at = t * a.N + n0 + i;
    V uu = P::load(u + i), vv = P::load(v + i), rr = refractory ? P::load(r + i) : V(0);
    P::store_spikes(a.spikes + at, lif_fixed_step(P::load(a.a_in + at), P::load(bias + i), a.p, uu, vv, rr));
    P::store(u + i, uu);
    P::store(v + i, vv);
    if (refractory) P::store(r + i, rr);
    if (a.u_seq) P::store(a.u_seq + at, uu);
    if (a.v_seq) P::store(a.v_seq + at, vv);
  };
  for (int64_t t = 0; t < a.T; ++t) {
    int64_t i = 0;
    for (; i + I::kWidth <= count; i += I::kWidth) step.template operator()<I>(t, i);
    for (; i < count; ++i) step.template operator()<ScalarIntIsa>(t, i);
  }
}

template <class I>
void lif_fixed_range(const LifFixedArgs& a, int64_t n_begin, int64_t n_end) {
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kNeuronBlock) lif_fixed_block<I>(a, n0, std::min(kNeuronBlock, n_end - n0));
}

}  // namespace
}  // namespace spikeops::cpu
