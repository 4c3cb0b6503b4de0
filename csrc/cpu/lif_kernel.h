// The blocked CPU driver of the LIF kernels, generic over an ISA policy I:
//   I::V, I::kWidth, load/store (S), load_i32/store_i32, load_u16/store_u16.
// Each ISA's translation unit includes this once. Everything here has internal
// linkage so that code built with one ISA's flags never stands in for another's.
//
// Neurons are processed in blocks of kBlockOf<S>: for each step t the block's
// row of every [T, N] buffer is a contiguous run of 8 KiB, which the
// hardware prefetcher streams well, while the block's state stays in L1. Lanes
// left over at the end of a block go through the scalar policy, which computes
// the same IEEE operations in the same order, so every ISA gives identical bits.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "spikeops/cpu.h"
#include "spikeops/half.h"
#include "spikeops/lif_args.h"
#include "static_switch.h"

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
  // 16-bit storage (V = float): include/spikeops/half.h's exact conversions.
  template <class H>
  static V load(const H* p) { return H::widen(p->bits); }
  template <class H>
  static uint16_t narrow(H*, V v) { return H::narrow(v); }
  template <class H>
  static uint16_t exact_bits(H*, V v) { return H::narrow(v); }
  template <class H>
  static V widen(H*, uint16_t bits) { return H::widen(bits); }
  template <class H>
  static uint16_t load_bits(const H* p) { return p->bits; }
  template <bool Stream, class H>
  static void store_bits(H* p, uint16_t bits) { p->bits = bits; }
  template <class H>
  static void store(H* p, V v) { p->bits = H::narrow(v); }
  template <class H>
  static void store_stream(H* p, V v) { p->bits = H::narrow(v); }
};


// Neurons per block: each row of a block is an 8 KiB run of S, which the hardware
// prefetchers stream well, and the block's state stays in L1.
template <class S>
constexpr int64_t kBlockOf = 8192 / static_cast<int64_t>(sizeof(S));

// Calls f.template operator()<Policy>(i) for i in [0, count): full vectors, then scalar lanes.
template <class I, class S, class F>
inline void for_each_lane(int64_t count, F&& f) {
  int64_t i = 0;
  for (; i + I::kWidth <= count; i += I::kWidth) f.template operator()<I>(i);
  for (; i < count; ++i) f.template operator()<ScalarIsa<S>>(i);
}

template <class F>
inline void reset_switch(ResetMode r, F&& f) {
  switch (r) {
    case ResetMode::Subtract: return f(std::integral_constant<ResetMode, ResetMode::Subtract>{});
    case ResetMode::Zero: return f(std::integral_constant<ResetMode, ResetMode::Zero>{});
    case ResetMode::None: return f(std::integral_constant<ResetMode, ResetMode::None>{});
  }
}

// The surrogates a LIF backward can use (FsTriangle belongs to the FS neuron).
template <class F>
inline void surrogate_switch(SurrogateKind k, F&& f) {
  using K = SurrogateKind;
  switch (k) {
    case K::ATan: return f(std::integral_constant<K, K::ATan>{});
    case K::FastSigmoid: return f(std::integral_constant<K, K::FastSigmoid>{});
    case K::Sigmoid: return f(std::integral_constant<K, K::Sigmoid>{});
    case K::Triangle: return f(std::integral_constant<K, K::Triangle>{});
    case K::Rectangle: return f(std::integral_constant<K, K::Rectangle>{});
    case K::STDB: return f(std::integral_constant<K, K::STDB>{});
    case K::Linear: return f(std::integral_constant<K, K::Linear>{});
    case K::STDBFloat32: return f(std::integral_constant<K, K::STDBFloat32>{});
    case K::FsTriangle: break;
  }
}

// Calls f(config) with the call's LifConfig turned into a StaticLifConfig: one
// instantiation of the step loop per combination of reset mode, deferred reset,
// refractory period, age tracking and (for the backward, where SurrogateToo) the
// surrogate kind.
template <bool Backward, bool SurrogateToo, class Real, class F>
inline void with_static_config(const LifConfigOf<Real>& c, F&& f) {
  reset_switch(c.reset, [&](auto reset) {
    bool_switch(c.deferred_reset, [&](auto deferred) {
      bool_switch(c.refractory_on(), [&](auto refractory) {
        if constexpr (!(deferred && refractory)) {  // rejected by the op's argument checks
          if constexpr (Backward && SurrogateToo) {
            surrogate_switch(c.surrogate.kind, [&](auto kind) {
              f(StaticLifConfig<Real, reset, deferred, refractory, false, kind>(c));
            });
          } else if constexpr (Backward) {
            f(StaticLifConfig<Real, reset, deferred, refractory, false>(c));
          } else {
            bool_switch(c.track_age, [&](auto track_age) {
              f(StaticLifConfig<Real, reset, deferred, refractory, track_age>(c));
            });
          }
        }
      });
    });
  });
}

// The neuron parameters of a call, each one value for every neuron or one per neuron.
// Uniform (all three one value): broadcast into registers once. Otherwise each is
// loaded per vector without a branch, from its per-neuron array or, for one value,
// from a line of copies read at offset 0 (index mask 0).
template <bool Uniform, class S>
class ParamSet {
 public:
  template <class Args>
  static bool all_uniform(const Args& a) {
    return is_uniform(a.alpha) && is_uniform(a.gamma) && is_uniform(a.theta);
  }
  template <class Args>
  explicit ParamSet(const Args& a) {
    const ParamRef<S>* refs[3] = {&a.alpha, &a.gamma, &a.theta};
    for (int k = 0; k < 3; ++k) {
      const ParamRef<S>& p = *refs[k];
      value_[k] = is_uniform(p) ? (p.data ? *p.data : p.value) : S(0);
      std::fill_n(copies_[k], kLine, value_[k]);
      data_[k] = is_uniform(p) ? copies_[k] : p.data;
      mask_[k] = is_uniform(p) ? 0 : -1;
    }
  }
  ParamSet(const ParamSet&) = delete;
  ParamSet& operator=(const ParamSet&) = delete;

  template <class P>
  NeuronParams<typename P::V> at(int64_t n) const {
    using V = typename P::V;
    if constexpr (Uniform) return {V(value_[0]), V(value_[1]), V(value_[2])};
    else return {P::load(data_[0] + (n & mask_[0])), P::load(data_[1] + (n & mask_[1])),
                 P::load(data_[2] + (n & mask_[2]))};
  }

 private:
  static constexpr int kLine = 64;  // at least one vector of any ISA
  static bool is_uniform(const ParamRef<S>& p) { return !p.data || p.stride == 0; }

  S value_[3];
  const S* data_[3];
  int64_t mask_[3];
  alignas(64) S copies_[3][kLine];
};

// Large [T, N] outputs bypass the caches: no read-for-ownership of lines that
// are about to be overwritten, and no eviction of the inputs still to be read.
// Stream: every vector store is 64-byte aligned (checked by stream_aligned).
template <bool Stream, class P, class S>
inline void store_output(S* p, typename P::V v) {
  if constexpr (Stream)
    P::store_stream(p, v);
  else
    P::store(p, v);
}

// The saved pre-spike membrane. In a 16-bit S it keeps h's side of the threshold
// (saved_h_bits, include/spikeops/half.h): rounded to nearest, and the rare lanes
// where that crossed the threshold or overflowed a finite h to infinity (then r - h
// is infinite) are redone one by one.
template <bool Stream, class P, class S>
inline void store_saved_h(S* p, typename P::V h, typename P::V theta) {
  using V = typename P::V;
  if constexpr (!is_16bit<S>) {
    store_output<Stream, P>(p, h);
  } else {
    auto bits = P::narrow(p, h);
    const V r = P::widen(p, bits);
    const auto redo = mask_or(mask_xor(gt(h, theta), gt(r, theta)), eq(vabs(r - h), V(INFINITY)));
    if (any(redo)) {  // a few percent of vectors in bfloat16, whose steps are coarse
      alignas(64) float hs[P::kWidth], ths[P::kWidth];
      alignas(64) S fixed[P::kWidth];
      P::store(hs, h);
      P::store(ths, theta);
      P::template store_bits<false>(fixed, bits);
      for (uint32_t lanes = lane_bits(redo); lanes != 0; lanes &= lanes - 1) {
        const int k = __builtin_ctz(lanes);
        fixed[k].bits = saved_h_bits<S>(hs[k], ths[k], fixed[k].bits);
      }
      bits = P::load_bits(fixed);
    }
    P::template store_bits<Stream>(p, bits);
  }
}

// Spikes (0 or 1) are exact in every storage type: 16-bit ones skip the rounding.
template <bool Stream, class P, class S>
inline void store_spikes(S* p, typename P::V spike) {
  if constexpr (is_16bit<S>)
    P::template store_bits<Stream>(p, P::exact_bits(p, spike));
  else
    store_output<Stream, P>(p, spike);
}

// Whether the [T, N] outputs can be streamed: requested, and every row of every
// block starts on a cache line (ranges start at multiples of kNeuronBlock neurons).
template <class S, class... Ptr>
inline bool stream_aligned(bool requested, int64_t N, const Ptr*... outputs) {
  const auto aligned = [](const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 64 == 0; };
  return requested && (N * static_cast<int64_t>(sizeof(S))) % 64 == 0 && (aligned(outputs) && ...);
}

// Bits [pos, pos + take) of a bitmap (take <= 64), as the low bits of a word.
inline uint64_t bit_run(const uint64_t* bits, int64_t pos, int64_t take) {
  const int64_t w = pos >> 6, b = pos & 63;
  uint64_t run = bits[w] >> b;
  if (b + take > 64) run |= bits[w + 1] << (64 - b);
  return take == 64 ? run : run & ((uint64_t{1} << take) - 1);
}

// The bitmap of `count` lanes from the lane masks of the whole vectors (kLanes lanes each, the
// first `full` lanes) and the bits of the lanes left over after them.
template <int64_t kLanes>
inline void gather_lane_masks(const uint32_t* lane_masks, int64_t full, uint64_t leftover, int64_t count,
                              uint64_t* bits) {
  constexpr int64_t kPerWord = 64 / kLanes;
  const int64_t vectors = full / kLanes;
  for (int64_t w = 0; w < (count + 63) / 64; ++w) {
    uint64_t word = 0;
    for (int64_t k = 0; k < kPerWord && w * kPerWord + k < vectors; ++k)
      word |= static_cast<uint64_t>(lane_masks[w * kPerWord + k]) << (k * kLanes);
    bits[w] = word;
  }
  if (full < count) bits[full >> 6] |= leftover << (full & 63);  // fewer than kLanes bits: within one word
}

// One step's spikes of neurons [g0, g0 + count) of the flat [T * N] index (bit i of `bits` for
// neuron g0 + i) into their rows' words (LifForwardArgs::spike_words). A word wholly inside the
// run is stored; one it shares with the neighbouring blocks (another thread's, maybe) gets an
// atomic OR, its other bits coming from them.
inline void store_spike_bits(const uint64_t* bits, int64_t g0, int64_t count, int64_t row_len, uint64_t* words) {
  const int64_t row_words = (row_len + 63) / 64;
  for (int64_t i = 0; i < count;) {
    const int64_t row = (g0 + i) / row_len, start = (g0 + i) % row_len, len = std::min(count - i, row_len - start);
    uint64_t* out = words + row * row_words;
    for (int64_t done = 0; done < len;) {
      const int64_t pos = start + done, w = pos >> 6, b = pos & 63, take = std::min(64 - b, len - done);
      const uint64_t run = bit_run(bits, i + done, take) << b;
      if (b == 0 && take == std::min<int64_t>(64, row_len - 64 * w))
        out[w] = run;
      else if (run)
        __atomic_fetch_or(out + w, run, __ATOMIC_RELAXED);
      done += take;
    }
    i += len;
  }
}

// Fetches, for writing, the words that will receive neurons [g0, g0 + count)'s bits: a block's
// words of successive steps lie N bits apart, a stride the hardware prefetchers do not follow.
inline void prefetch_spike_words(int64_t g0, int64_t count, int64_t row_len, uint64_t* words) {
  const int64_t row_words = (row_len + 63) / 64;
  const auto word = [&](int64_t g) { return words + g / row_len * row_words + g % row_len / 64; };
  const char* last = reinterpret_cast<const char*>(word(g0 + count - 1));
  for (const char* p = reinterpret_cast<const char*>(word(g0)); p <= last + 63; p += 64) __builtin_prefetch(p, 1);
}

// One block's forward over all T steps. The state lives in L1-resident block
// buffers; the configuration is fixed at compile time (C, Uniform, Stream), so the
// vector loop holds the configured step and nothing else.
template <class I, bool Uniform, bool Stream, class C, class S, class F>
void forward_block(const LifForwardArgs<S, F>& a, const C c, int64_t n0, int64_t count) {
  alignas(64) F v[kBlockOf<S>], r[kBlockOf<S>], age[kBlockOf<S>];
  // The initial state, with each choice made once per block (so the fills vectorise), and
  // the counters only where the configuration has them.
  if (a.v0)
    std::copy(a.v0 + n0, a.v0 + n0 + count, v);
  else
    std::fill(v, v + count, static_cast<F>(c.v_reset));
  if (c.refractory_on()) {
    if (a.r0)
      for (int64_t i = 0; i < count; ++i) r[i] = counter_from_int(static_cast<F>(a.r0[n0 + i]));
    else
      std::fill(r, r + count, F(0));
  }
  if (c.track_age) {
    if (a.a0)
      for (int64_t i = 0; i < count; ++i) age[i] = counter_from_int(static_cast<F>(a.a0[n0 + i]));
    else
      std::fill(age, age + count, static_cast<F>(a.age_init));
  }
  const ParamSet<Uniform, F> params(a);
  const int64_t N = a.N;
  const S* x = a.x + n0;
  S* spikes = a.spikes + n0;
  S* saved_h = a.saved_h ? a.saved_h + n0 : nullptr;
  uint16_t* saved_age = a.saved_age ? a.saved_age + n0 : nullptr;
  int32_t* ages = a.ages ? a.ages + n0 : nullptr;
  // Step t's spikes as bits, when they are packed too: each vector's lane mask is stored on its
  // own (OR-ing four of them into one word in memory would chain the vectors through store
  // forwarding), and the leftover lanes' bits gathered apart; they become words after the step.
  constexpr int64_t kLanes = I::kWidth;
  alignas(64) uint32_t lane_masks[kBlockOf<S> / kLanes];
  alignas(64) uint64_t bits[kBlockOf<S> / 64];
  const int64_t full = count - count % kLanes;
  uint64_t leftover = 0;
  for (int64_t t = 0; t < a.T; ++t) {
    if (a.spike_words) prefetch_spike_words(t * N + n0, count, a.spike_row, a.spike_words);
    for_each_lane<I, F>(count, [&]<class P>(int64_t i) {
      using V = typename P::V;
      const NeuronParams<V> p = params.template at<P>(n0 + i);
      NeuronState<V> st{P::load(v + i), c.refractory_on() ? P::load(r + i) : V(0.0f),
                        c.track_age ? P::load(age + i) : V(0.0f)};
      const StepOutput<V> o = lif_step_forward(c, p, st, P::load(x + i));
      store_spikes<Stream, P>(spikes + i, o.spike);
      if (a.spike_words) {
        const uint32_t mask = lane_bits(gt(o.spike, V(0.0f)));
        if constexpr (P::kWidth == kLanes)
          lane_masks[i / kLanes] = mask;
        else
          leftover |= static_cast<uint64_t>(mask) << (i - full);
      }
      if (saved_h) store_saved_h<Stream, P>(saved_h + i, o.h, p.theta);
      if (c.track_age) {
        if (saved_age) P::store_u16(saved_age + i, o.age);
        if (ages) P::store_i32(ages + i, o.age);
        P::store(age + i, st.age);
      }
      P::store(v + i, st.v);
      if (c.refractory_on()) P::store(r + i, st.r);
    });
    if (a.spike_words) {
      gather_lane_masks<kLanes>(lane_masks, full, leftover, count, bits);
      store_spike_bits(bits, t * N + n0, count, a.spike_row, a.spike_words);
      leftover = 0;
    }
    x += N;
    spikes += N;
    if (saved_h) saved_h += N;
    if (saved_age) saved_age += N;
    if (ages) ages += N;
  }
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = n0 + i;
    a.v_out[n] = v[i];
    if (a.r_out) a.r_out[n] = static_cast<int32_t>(r[i]);
    if (a.a_out) a.a_out[n] = static_cast<int32_t>(age[i]);
  }
}

// One block's backward over all T steps, in reverse. Only the configuration C is a
// compile-time choice here (the surrogate multiplies the combinations); parameters
// and optional gradients are read without branches or behind predictable ones.
template <class I, class C, class S, class F>
void backward_block(const LifBackwardArgs<S, F>& a, const C c, bool stream, int64_t n0, int64_t count) {
  alignas(64) F g_next[kBlockOf<S>], g_alpha[kBlockOf<S>], g_gamma[kBlockOf<S>], g_theta[kBlockOf<S>];
  std::fill_n(g_next, count, F(0));
  std::fill_n(g_alpha, count, F(0));
  std::fill_n(g_gamma, count, F(0));
  std::fill_n(g_theta, count, F(0));
  const bool stdb = uses_spike_ages(c.surrogate.kind);  // a constant where the kind is
  const ParamSet<false, F> params(a);
  const bool want_alpha = a.grad_alpha, want_gamma = a.grad_gamma, want_theta = a.grad_theta;
  const int64_t N = a.N;
  for (int64_t t = a.T - 1; t >= 0; --t) {
    const int64_t row = t * N + n0;
    const S* h_row = a.saved_h + row;
    const S* g_s_row = a.grad_spikes + row;
    const S* x_row = want_gamma ? a.x + row : nullptr;
    const uint16_t* age_row = stdb ? a.saved_age + row : nullptr;
    const F* g_end_row = (t == a.T - 1 && a.grad_v) ? a.grad_v + n0 : nullptr;
    S* grad_x_row = a.grad_x + row;
    for_each_lane<I, F>(count, [&]<class P>(int64_t i) {
      using V = typename P::V;
      const NeuronParams<V> p = params.template at<P>(n0 + i);
      const V h = P::load(h_row + i);
      const V g_end = g_end_row ? P::load(g_end_row + i) : V(0.0f);
      const V age_t = stdb ? P::load_u16(age_row + i) : V(0.0f);
      V g_th = want_theta ? P::load(g_theta + i) : V(0.0f);
      const V g_h = lif_step_backward(c, p, h, P::load(g_s_row + i), P::load(g_next + i), g_end, age_t, g_th);
      if (want_theta) P::store(g_theta + i, g_th);
      P::store(g_next + i, g_h);
      if (stream)
        P::store_stream(grad_x_row + i, p.gamma * g_h);
      else
        P::store(grad_x_row + i, p.gamma * g_h);
      if (want_alpha) {
        const V v_prev = t > 0 ? state_from_saved(c, p, P::load(h_row - N + i))
                               : decayed_input(c, p, a.v0 ? P::load(a.v0 + n0 + i) : V(c.v_reset));
        P::store(g_alpha + i, P::load(g_alpha + i) + g_h * v_prev);
      }
      if (want_gamma) P::store(g_gamma + i, P::load(g_gamma + i) + g_h * P::load(x_row + i));
    });
  }
  // The initial state: through the decay, and with deferred_reset also through step 0's reset.
  for_each_lane<I, F>(count, [&]<class P>(int64_t i) {
    using V = typename P::V;
    const int64_t n = n0 + i;
    const NeuronParams<V> p = params.template at<P>(n);
    const V v0 = a.v0 ? P::load(a.v0 + n) : V(c.v_reset);
    const V age0 = a.a0 ? counter_from_int(P::load_i32(a.a0 + n)) : V(static_cast<float>(a.age_init));
    V g_th = P::load(g_theta + i);
    const V g_v0 = lif_initial_backward(c, p, v0, age0, P::load(g_next + i), g_th);
    if (a.grad_v0) P::store(a.grad_v0 + n, g_v0);
    if (a.grad_alpha) P::store(a.grad_alpha + n, P::load(g_alpha + i));
    if (a.grad_gamma) P::store(a.grad_gamma + n, P::load(g_gamma + i));
    if (a.grad_theta) P::store(a.grad_theta + n, g_th);
  });
}

// float32, the common case, gets every specialisation; the other element types
// share fewer (per-neuron parameter loads, the surrogate read at run time) to keep
// the code size and build time in bounds.
template <class S>
constexpr bool kFullySpecialised = std::is_same_v<S, float>;

template <class I, class S, class F>
void forward_range(const LifForwardArgs<S, F>& a, int64_t n_begin, int64_t n_end) {
  const bool uniform = kFullySpecialised<S> && ParamSet<true, F>::all_uniform(a);
  const bool stream = stream_aligned<S>(a.stream_outputs, a.N, a.spikes, a.saved_h);
  with_static_config<false, false>(a.cfg, [&](const auto& c) {
    const auto blocks = [&](auto uniform_params) {
      bool_switch(stream, [&](auto streamed) {
        for (int64_t n0 = n_begin; n0 < n_end; n0 += kBlockOf<S>)
          forward_block<I, uniform_params, streamed>(a, c, n0, std::min(kBlockOf<S>, n_end - n0));
      });
    };
    if constexpr (kFullySpecialised<S>)
      bool_switch(uniform, blocks);
    else
      blocks(std::false_type{});
  });
  I::fence();
}

template <class I, class S, class F>
void backward_range(const LifBackwardArgs<S, F>& a, int64_t n_begin, int64_t n_end) {
  const bool stream = stream_aligned<S>(a.stream_outputs, a.N, a.grad_x);
  with_static_config<true, kFullySpecialised<S>>(a.cfg, [&](const auto& c) {
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kBlockOf<S>)
      backward_block<I>(a, c, stream, n0, std::min(kBlockOf<S>, n_end - n0));
  });
  I::fence();
}

// A float32 saved membrane in 16 bits (store_saved_h's rule), rows [begin, end) of [T, N].
template <class I, class H>
void saved_h_16_range(const SavedH16Args& a, int64_t row_begin, int64_t row_end) {
  for (int64_t t = row_begin; t < row_end; ++t) {
    const float* h = a.h + t * a.N;
    H* out = reinterpret_cast<H*>(a.out) + t * a.N;
    int64_t n = 0;
    for (; n + I::kWidth <= a.N; n += I::kWidth) store_saved_h<false, I>(out + n, I::load(h + n), I::load(a.theta + n));
    for (; n < a.N; ++n) out[n].bits = saved_h_bits<H>(h[n], a.theta[n], H::narrow(h[n]));
  }
}

}  // namespace
}  // namespace spikeops::cpu

// The entry points of include/spikeops/cpu.h for one ISA (suffix), from its float
// and double policies; each ISA's translation unit expands this once.
#define SPIKEOPS_DEFINE_LIF_KERNELS(suffix, FloatIsa, DoubleIsa)                                    \
  namespace spikeops::cpu {                                                                         \
  void lif_forward_##suffix(const LifForwardArgs<float>& a, int64_t b, int64_t e) {                 \
    forward_range<FloatIsa>(a, b, e);                                                               \
  }                                                                                                 \
  void lif_backward_##suffix(const LifBackwardArgs<float>& a, int64_t b, int64_t e) {               \
    backward_range<FloatIsa>(a, b, e);                                                              \
  }                                                                                                 \
  void lif_forward_##suffix(const LifForwardArgs<Float16, float>& a, int64_t b, int64_t e) {        \
    forward_range<FloatIsa>(a, b, e);                                                               \
  }                                                                                                 \
  void lif_backward_##suffix(const LifBackwardArgs<Float16, float>& a, int64_t b, int64_t e) {      \
    backward_range<FloatIsa>(a, b, e);                                                              \
  }                                                                                                 \
  void lif_forward_##suffix(const LifForwardArgs<BFloat16, float>& a, int64_t b, int64_t e) {       \
    forward_range<FloatIsa>(a, b, e);                                                               \
  }                                                                                                 \
  void lif_backward_##suffix(const LifBackwardArgs<BFloat16, float>& a, int64_t b, int64_t e) {     \
    backward_range<FloatIsa>(a, b, e);                                                              \
  }                                                                                                 \
  void lif_forward_##suffix(const LifForwardArgs<double>& a, int64_t b, int64_t e) {                \
    forward_range<DoubleIsa>(a, b, e);                                                              \
  }                                                                                                 \
  void lif_backward_##suffix(const LifBackwardArgs<double>& a, int64_t b, int64_t e) {              \
    backward_range<DoubleIsa>(a, b, e);                                                             \
  }                                                                                                 \
  void saved_h_16_##suffix(const SavedH16Args& a, int64_t b, int64_t e) {                           \
    if (a.bfloat16)                                                                                 \
      saved_h_16_range<FloatIsa, BFloat16>(a, b, e);                                                \
    else                                                                                            \
      saved_h_16_range<FloatIsa, Float16>(a, b, e);                                                 \
  }                                                                                                 \
  }  // namespace spikeops::cpu
