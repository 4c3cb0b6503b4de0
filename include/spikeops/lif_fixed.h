// The fixed-point (Loihi-style) LIF neuron of docs/math.md §8, written once over
// an int32 value type V: int32_t for the scalar CPU kernel and CUDA threads, a
// SIMD register of int32 lanes for the AVX2/AVX-512 kernels (csrc/cpu/vec_*.h
// give the same primitives). Every operation is exact integer arithmetic, so
// all paths agree bit for bit.
//
// Per step, with decays D_u, D_v in [0, 4096] (current decay D_u + 1 in the
// bit-accurate chip model):
//   u <- wrap24(decay(u, D_u) + (a_in << 6))
//   v <- sat24(decay(v, D_v) + u + (bias_mant << bias_exp))    (held at 0 while refractory)
//   spike if v > (vth_mant << 6); then v <- 0 (zero reset) or v - (vth_mant << 6) (subtract)
// decay(y, D) = sign(y) ((|y| (4096 - D)) >> 12), the shift rounding toward zero.
#pragma once

#include <cstdint>

#include "spikeops/math.h"

namespace spikeops {

constexpr int32_t kDecayOne = 4096;            // decays are in units of 1/4096
constexpr int32_t kStateMax = (1 << 23) - 1;   // 24-bit state: v saturates at +-kStateMax
constexpr int32_t kActivationShift = 6;        // synaptic input and threshold are shifted left by 6
constexpr int32_t kThresholdMantissaMax = (1 << 17) - 1;
constexpr int32_t kBiasMantissaMin = -(1 << 12), kBiasMantissaMax = (1 << 12) - 1;
constexpr int32_t kBiasExponentMax = 7;

// Scalar int32 primitives. Shifts and sums go through uint32 so that wrapping is
// defined; right shifts of negative values are arithmetic (as on every target).
SPIKEOPS_HOST_DEVICE int32_t wrapping_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
template <int K> SPIKEOPS_HOST_DEVICE int32_t shift_left(int32_t a) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) << K);
}
template <int K> SPIKEOPS_HOST_DEVICE int32_t shift_right(int32_t a) { return a >> K; }
SPIKEOPS_HOST_DEVICE int32_t bit_and(int32_t a, int32_t b) { return a & b; }
SPIKEOPS_HOST_DEVICE int32_t iabs(int32_t a) { return a < 0 ? -a : a; }
// a with the sign of s (a >= 0).
SPIKEOPS_HOST_DEVICE int32_t with_sign_of(int32_t a, int32_t s) { return s < 0 ? -a : a; }

// sign(y) ((|y| keep) >> 12) for |y| <= 2^23, keep = 4096 - D in [0, 4096], in
// 32-bit lanes: |y| = hi 2^12 + lo gives (|y| keep) >> 12 = hi keep + ((lo keep) >> 12)
// exactly, with both products below 2^24. keep is the same for every lane, so the
// common no-memory (0) and no-decay (4096) cases cost a predictable branch.
template <class V>
SPIKEOPS_HOST_DEVICE V decay12(V y, int32_t keep) {
  if (keep == 0) return V(0);
  if (keep == kDecayOne) return y;
  const V k(keep);
  const V mag = iabs(y);
  const V hi = shift_right<12>(mag);
  const V lo = bit_and(mag, V(kDecayOne - 1));
  return with_sign_of(hi * k + shift_right<12>(lo * k), y);
}

// y modulo 2^24 as a signed 24-bit value.
template <class V> SPIKEOPS_HOST_DEVICE V wrap24(V y) { return shift_right<8>(shift_left<8>(y)); }

template <class V> SPIKEOPS_HOST_DEVICE V saturate24(V y) { return vmin(vmax(y, V(-kStateMax)), V(kStateMax)); }

struct LifFixedParams {
  int32_t keep_u;      // 4096 - effective D_u
  int32_t keep_v;      // 4096 - D_v
  int32_t threshold;   // vth_mant << 6
  int32_t refractory;  // steps v is held at 0 after a spike
  bool subtract;       // subtract reset (else reset to 0)

  SPIKEOPS_HOST_DEVICE bool refractory_on() const { return refractory > 0; }
};

// The same parameters with the reset mode and whether there is a refractory
// period fixed at compile time (the CPU kernels' instantiations).
template <bool Refractory, bool Subtract>
struct StaticLifFixedParams : LifFixedParams {
  static constexpr bool subtract = Subtract;
  static constexpr bool refractory_on() { return Refractory; }
  explicit StaticLifFixedParams(const LifFixedParams& p) : LifFixedParams(p) {}
};

// One step for a vector of neurons. bias is bias_mant << bias_exp. Returns the spike mask.
// P: LifFixedParams or a StaticLifFixedParams.
template <class V, class P>
SPIKEOPS_HOST_DEVICE Mask<V> lif_fixed_step(V a_in, V bias, const P& p, V& u, V& v, V& r) {
  u = wrap24(wrapping_add(decay12(u, p.keep_u), shift_left<kActivationShift>(a_in)));
  const V charged = saturate24(decay12(v, p.keep_v) + u + bias);
  const V threshold(p.threshold);
  const V after = p.subtract ? charged - threshold : V(0);
  if (!p.refractory_on()) {  // r stays 0 (r0 <= refractory)
    const Mask<V> spike = gt(charged, threshold);
    v = select(spike, after, charged);
    return spike;
  }
  const Mask<V> refractory = gt(r, V(0));
  const Mask<V> spike = mask_andnot(gt(charged, threshold), refractory);
  v = select(refractory, V(0), select(spike, after, charged));
  r = select(spike, V(p.refractory), select(refractory, r - V(1), V(0)));
  return spike;
}

}  // namespace spikeops

namespace spikeops {

// Arguments of the fused fixed-point LIF kernels: [T, N] time-major int32 input,
// uint8 spikes, optional [T, N] state traces; per-neuron state in the *_out
// buffers (initialised from *0 when given, else 0). Null pointers are absent.
struct LifFixedArgs {
  int64_t T, N;
  const int32_t* a_in;       // [T, N] synaptic input
  const int32_t* bias_mant;  // [N] or [1] (bias_stride 0), optional
  int64_t bias_stride;
  int32_t bias_exp;
  const int32_t *u0, *v0, *r0;  // [N], optional
  uint8_t* spikes;              // [T, N]
  int32_t *u_seq, *v_seq;       // [T, N], optional
  int32_t *u_out, *v_out, *r_out;  // [N]
  LifFixedParams p;
};

SPIKEOPS_HOST_DEVICE int32_t lif_fixed_bias(const LifFixedArgs& a, int64_t n) {
  return a.bias_mant ? a.bias_mant[n * a.bias_stride] * (1 << a.bias_exp) : 0;
}

}  // namespace spikeops
