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
#include "static_switch.h"

namespace spikeops::cpu {
namespace {

struct ScalarIntIsa {
  using V = int32_t;
  static constexpr int64_t kWidth = 1;
  static V load(const int32_t* p) { return *p; }
  static void store(int32_t* p, V v) { *p = v; }
  static void store_spikes(uint8_t* p, bool m) { *p = m ? 1 : 0; }
};

// P: a StaticLifFixedParams (by value: a reference to the args' parameters could
// alias the int32 stores, so they would be reloaded every vector). Traces: whether
// the [T, N] u/v traces are written.
template <class I, class P, bool Traces>
void lif_fixed_block(const LifFixedArgs& a, const P p, int64_t n0, int64_t count) {
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
  const int32_t* a_in = a.a_in + n0;
  uint8_t* spikes = a.spikes + n0;
  int32_t* u_seq = a.u_seq ? a.u_seq + n0 : nullptr;
  int32_t* v_seq = a.v_seq ? a.v_seq + n0 : nullptr;
  const int64_t N = a.N;
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t row = t * N;
    auto step = [&]<class Q>(int64_t i) {
      using V = typename Q::V;
      V uu = Q::load(u + i), vv = Q::load(v + i), rr = p.refractory_on() ? Q::load(r + i) : V(0);
      Q::store_spikes(spikes + row + i, lif_fixed_step(Q::load(a_in + row + i), Q::load(bias + i), p, uu, vv, rr));
      Q::store(u + i, uu);
      Q::store(v + i, vv);
      if (p.refractory_on()) Q::store(r + i, rr);
      if constexpr (Traces) {
        if (u_seq) Q::store(u_seq + row + i, uu);
        if (v_seq) Q::store(v_seq + row + i, vv);
      }
    };
    int64_t i = 0;
    for (; i + I::kWidth <= count; i += I::kWidth) step.template operator()<I>(i);
    for (; i < count; ++i) step.template operator()<ScalarIntIsa>(i);
  }
}

template <class I>
void lif_fixed_range(const LifFixedArgs& a, int64_t n_begin, int64_t n_end) {
  bool_switch(a.p.refractory_on(), [&](auto refractory) {
    bool_switch(a.p.subtract, [&](auto subtract) {
      bool_switch(a.u_seq || a.v_seq, [&](auto traces) {
        const StaticLifFixedParams<refractory, subtract> p(a.p);
        for (int64_t n0 = n_begin; n0 < n_end; n0 += kNeuronBlock)
          lif_fixed_block<I, decltype(p), traces>(a, p, n0, std::min(kNeuronBlock, n_end - n0));
      });
    });
  });
}

}  // namespace
}  // namespace spikeops::cpu
