// The blocked CPU driver of the LIF kernels, generic over an ISA policy I:
//   I::V, I::kWidth, load/store (S), load_i32/store_i32, load_u16/store_u16.
// Each ISA's translation unit includes this once. Everything here has internal
// linkage so that code built with one ISA's flags never stands in for another's.
//
// Neurons are processed in blocks of kNeuronBlock: for each step t the block's
// row of every [T, N] buffer is a contiguous run (8 KiB for float32), which the
// hardware prefetcher streams well, while the block's state stays in L1. Lanes
// left over at the end of a block go through the scalar policy, which computes
// the same IEEE operations in the same order, so every ISA gives identical bits.
#pragma once

#include <algorithm>
#include <cstdint>

#include "spikeops/cpu.h"
#include "spikeops/lif_args.h"

namespace spikeops::cpu {
namespace {

template <class S>
struct ScalarIsa {
  using V = S;
  static constexpr int64_t kWidth = 1;
  static V load(const S* p) { return *p; }
  static void store(S* p, V v) { *p = v; }
  static void store_stream(S* p, V v) { *p = v; }
  static void fence() {}
  static V load_i32(const int32_t* p) { return static_cast<V>(*p); }
  static void store_i32(int32_t* p, V v) { *p = static_cast<int32_t>(v); }
  static V load_u16(const uint16_t* p) { return static_cast<V>(*p); }
  static void store_u16(uint16_t* p, V v) { *p = static_cast<uint16_t>(vmin(v, V(65535.0f))); }
  static void store_u8(uint8_t* p, V v) { *p = static_cast<uint8_t>(v); }  // v in [0, 255]
};

template <class I, class S>
inline typename I::V load_param(const ParamRef<S>& p, int64_t n) {
  using V = typename I::V;
  if (!p.data) return V(p.value);
  return p.stride ? I::load(p.data + n) : V(*p.data);
}

template <class I, class S>
inline NeuronParams<typename I::V> load_params(const ParamRef<S>& alpha, const ParamRef<S>& gamma,
                                               const ParamRef<S>& theta, int64_t n) {
  return {load_param<I>(alpha, n), load_param<I>(gamma, n), load_param<I>(theta, n)};
}

// Large [T, N] outputs bypass the caches: no read-for-ownership of lines that
// are about to be overwritten, and no eviction of the inputs still to be read.
template <class P, class S>
inline void store_output(bool stream, S* p, typename P::V v) {
  if (stream)
    P::store_stream(p, v);
  else
    P::store(p, v);
}

// Calls f.template operator()<Policy>(i) for i in [0, count): full vectors, then scalar lanes.
template <class I, class S, class F>
inline void for_each_lane(int64_t count, F&& f) {
  int64_t i = 0;
  for (; i + I::kWidth <= count; i += I::kWidth) f.template operator()<I>(i);
  for (; i < count; ++i) f.template operator()<ScalarIsa<S>>(i);
}

template <class I, class S>
void forward_block(const LifForwardArgs<S>& a, int64_t n0, int64_t count) {
  alignas(64) S v[kNeuronBlock], r[kNeuronBlock], age[kNeuronBlock];
  const LifConfig& c = a.cfg;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = n0 + i;
    v[i] = a.v0 ? a.v0[n] : static_cast<S>(c.v_reset);
    r[i] = a.r0 ? static_cast<S>(a.r0[n]) : S(0);
    age[i] = a.a0 ? static_cast<S>(a.a0[n]) : static_cast<S>(a.age_init);
  }
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t row = t * a.N + n0;
    for_each_lane<I, S>(count, [&]<class P>(int64_t i) {
      using V = typename P::V;
      const NeuronParams<V> p = load_params<P>(a.alpha, a.gamma, a.theta, n0 + i);
      NeuronState<V> st{P::load(v + i), P::load(r + i), P::load(age + i)};
      const StepOutput<V> o = lif_step_forward(c, p, st, P::load(a.x + row + i));
      store_output<P>(a.stream_outputs, a.spikes + row + i, o.spike);
      if (a.saved_h) store_output<P>(a.stream_outputs, a.saved_h + row + i, o.h);
      if (a.saved_age) P::store_u16(a.saved_age + row + i, o.age);
      if (a.ages) P::store_i32(a.ages + row + i, o.age);
      P::store(v + i, st.v);
      if (c.refractory > 0) P::store(r + i, st.r);
      if (c.track_age) P::store(age + i, st.age);
    });
  }
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = n0 + i;
    a.v_out[n] = v[i];
    if (a.r_out) a.r_out[n] = static_cast<int32_t>(r[i]);
    if (a.a_out) a.a_out[n] = static_cast<int32_t>(age[i]);
  }
}

template <class I, class S>
void backward_block(const LifBackwardArgs<S>& a, int64_t n0, int64_t count) {
  alignas(64) S g_next[kNeuronBlock], g_alpha[kNeuronBlock], g_gamma[kNeuronBlock], g_theta[kNeuronBlock];
  const LifConfig& c = a.cfg;
  std::fill_n(g_next, count, S(0));
  std::fill_n(g_alpha, count, S(0));
  std::fill_n(g_gamma, count, S(0));
  std::fill_n(g_theta, count, S(0));
  for (int64_t t = a.T - 1; t >= 0; --t) {
    const int64_t row = t * a.N + n0;
    const bool last = t == a.T - 1;
    for_each_lane<I, S>(count, [&]<class P>(int64_t i) {
      using V = typename P::V;
      const int64_t n = n0 + i;
      const NeuronParams<V> p = load_params<P>(a.alpha, a.gamma, a.theta, n);
      const V h = P::load(a.saved_h + row + i);
      const V g_end = (last && a.grad_v) ? P::load(a.grad_v + n) : V(0.0f);
      const V age_t = a.saved_age ? P::load_u16(a.saved_age + row + i) : V(0.0f);
      V g_th = P::load(g_theta + i);
      const V g_h = lif_step_backward(c, p, h, P::load(a.grad_spikes + row + i), P::load(g_next + i),
                                      g_end, age_t, g_th);
      P::store(g_theta + i, g_th);
      P::store(g_next + i, g_h);
      store_output<P>(a.stream_outputs, a.grad_x + row + i, p.gamma * g_h);
      if (a.grad_alpha) {
        V v_prev;
        if (t > 0) {
          v_prev = state_from_saved(c, p, P::load(a.saved_h + row - a.N + i));
        } else {
          v_prev = decayed_input(c, p, a.v0 ? P::load(a.v0 + n) : V(c.v_reset));
        }
        P::store(g_alpha + i, P::load(g_alpha + i) + g_h * v_prev);
      }
      if (a.grad_gamma) P::store(g_gamma + i, P::load(g_gamma + i) + g_h * P::load(a.x + row + i));
    });
  }
  // The initial state: through the decay, and with deferred_reset also through step 0's reset.
  for_each_lane<I, S>(count, [&]<class P>(int64_t i) {
    using V = typename P::V;
    const int64_t n = n0 + i;
    const NeuronParams<V> p = load_params<P>(a.alpha, a.gamma, a.theta, n);
    const V v0 = a.v0 ? P::load(a.v0 + n) : V(c.v_reset);
    const V age0 = a.a0 ? P::load_i32(a.a0 + n) : V(static_cast<float>(a.age_init));
    V g_th = P::load(g_theta + i);
    const V g_v0 = lif_initial_backward(c, p, v0, age0, P::load(g_next + i), g_th);
    P::store(g_theta + i, g_th);
    if (a.grad_v0) P::store(a.grad_v0 + n, g_v0);
    if (a.grad_alpha) P::store(a.grad_alpha + n, P::load(g_alpha + i));
    if (a.grad_gamma) P::store(a.grad_gamma + n, P::load(g_gamma + i));
    if (a.grad_theta) P::store(a.grad_theta + n, P::load(g_theta + i));
  });
}

template <class I, class S>
void forward_range(const LifForwardArgs<S>& a, int64_t n_begin, int64_t n_end) {
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kNeuronBlock)
    forward_block<I>(a, n0, std::min(kNeuronBlock, n_end - n0));
  I::fence();
}

template <class I, class S>
void backward_range(const LifBackwardArgs<S>& a, int64_t n_begin, int64_t n_end) {
  for (int64_t n0 = n_begin; n0 < n_end; n0 += kNeuronBlock)
    backward_block<I>(a, n0, std::min(kNeuronBlock, n_end - n0));
  I::fence();
}

}  // namespace
}  // namespace spikeops::cpu
