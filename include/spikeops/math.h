// Element-wise primitives the neuron math is written in.
//
// The dynamics in neuron.h and surrogate.h are templates over a value type V
// (one neuron's float, or a SIMD register of neurons) and its mask type. This
// header gives the scalar versions (float / double, mask = bool) so the same
// templates compile for the scalar CPU kernel and for CUDA threads; the AVX
// wrappers in csrc/cpu/ provide the same functions for vectors.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SPIKEOPS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SPIKEOPS_HOST_DEVICE inline __attribute__((always_inline))
#endif

namespace spikeops {

template <class V> struct MaskOf { using type = bool; };
template <class V> using Mask = typename MaskOf<V>::type;

template <class V> SPIKEOPS_HOST_DEVICE bool gt(V a, V b) { return a > b; }
template <class V> SPIKEOPS_HOST_DEVICE bool lt(V a, V b) { return a < b; }
template <class V> SPIKEOPS_HOST_DEVICE bool eq(V a, V b) { return a == b; }
SPIKEOPS_HOST_DEVICE bool mask_and(bool a, bool b) { return a && b; }
SPIKEOPS_HOST_DEVICE bool mask_andnot(bool a, bool b) { return a && !b; }
SPIKEOPS_HOST_DEVICE bool mask_or(bool a, bool b) { return a || b; }
SPIKEOPS_HOST_DEVICE bool mask_xor(bool a, bool b) { return a != b; }
template <class V> SPIKEOPS_HOST_DEVICE V select(bool m, V a, V b) { return m ? a : b; }
#if !defined(__CUDA_ARCH__)
// On the CPU the scalar select is written as bit operations: a compiler's branch
// on a data-dependent mask (a spike) mispredicts about as often as neurons fire.
template <class V, class U>
inline __attribute__((always_inline)) V select_bits(bool m, V a, V b) {
  U ua, ub;
  memcpy(&ua, &a, sizeof(V));
  memcpy(&ub, &b, sizeof(V));
  const U mask = U(0) - static_cast<U>(m);
  const U out = (ua & mask) | (ub & ~mask);
  V r;
  memcpy(&r, &out, sizeof(V));
  return r;
}
inline __attribute__((always_inline)) float select(bool m, float a, float b) {
  return select_bits<float, uint32_t>(m, a, b);
}
inline __attribute__((always_inline)) double select(bool m, double a, double b) {
  return select_bits<double, uint64_t>(m, a, b);
}
// Branch-free for the same reason; the same results as the ternaries below (and
// as the SIMD max/min: the second operand when either is NaN or both are zero).
inline __attribute__((always_inline)) float vmax(float a, float b) { return select(a > b, a, b); }
inline __attribute__((always_inline)) double vmax(double a, double b) { return select(a > b, a, b); }
inline __attribute__((always_inline)) float vmin(float a, float b) { return select(a < b, a, b); }
inline __attribute__((always_inline)) double vmin(double a, double b) { return select(a < b, a, b); }
#endif
// Whether any lane of the mask is set (a branch that lets whole vectors skip rare work).
SPIKEOPS_HOST_DEVICE bool any(bool m) { return m; }
// Bit k set where lane k of the mask is (one lane here).
SPIKEOPS_HOST_DEVICE uint32_t lane_bits(bool m) { return m ? 1u : 0u; }
SPIKEOPS_HOST_DEVICE float vabs(float a) { return fabsf(a); }
SPIKEOPS_HOST_DEVICE double vabs(double a) { return fabs(a); }
template <class V> SPIKEOPS_HOST_DEVICE V vmax(V a, V b) { return a > b ? a : b; }
template <class V> SPIKEOPS_HOST_DEVICE V vmin(V a, V b) { return a < b ? a : b; }
SPIKEOPS_HOST_DEVICE float vfloor(float a) { return floorf(a); }
SPIKEOPS_HOST_DEVICE double vfloor(double a) { return floor(a); }

// 2^n for integral n in [-126, 127], built from the exponent bits.
SPIKEOPS_HOST_DEVICE float pow2i(float n) {
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float out;
  memcpy(&out, &bits, sizeof(out));
  return out;
}

// exp for float32 as a fixed sequence of IEEE operations (Cody-Waite range
// reduction, degree-6 polynomial, relative error ~2e-7). Written once over V so
// the scalar, AVX2 and AVX-512 kernels produce bitwise identical results.
template <class V>
SPIKEOPS_HOST_DEVICE V exp_f32(V x0) {
  const V x = vmin(vmax(x0, V(-87.0f)), V(88.0f));  // NaN -> -87: no NaN reaches pow2i's conversion
  const V n = vfloor(x * V(1.44269504088896341f) + V(0.5f));
  V r = x - n * V(0.693359375f);
  r = r - n * V(-2.12194440e-4f);
  V p = V(1.9875691500e-4f);
  p = p * r + V(1.3981999507e-3f);
  p = p * r + V(8.3334519073e-3f);
  p = p * r + V(4.1665795894e-2f);
  p = p * r + V(1.6666665459e-1f);
  p = p * r + V(5.0000001201e-1f);
  p = p * (r * r) + r + V(1.0f);
  return select(eq(x0, x0), p * pow2i(n), x0);  // NaN in, NaN out
}

SPIKEOPS_HOST_DEVICE float vexp(float x) { return exp_f32(x); }
SPIKEOPS_HOST_DEVICE double vexp(double x) { return exp(x); }

// x = m 2^e with m in [0.5, 1), for finite normal x > 0 (e returned as a float).
SPIKEOPS_HOST_DEVICE float split_exponent(float x, float& e) {
  int32_t bits;
  memcpy(&bits, &x, sizeof(bits));
  e = static_cast<float>(((bits >> 23) & 0xff) - 126);
  bits = (bits & static_cast<int32_t>(0x807fffff)) | 0x3f000000;
  float m;
  memcpy(&m, &bits, sizeof(m));
  return m;
}

// Natural log for float32 x > 0 (finite, normal) as a fixed sequence of IEEE
// operations (Cephes' logf: range reduction to [sqrt(1/2), sqrt(2)), degree-8
// polynomial, ~1 ulp), so every ISA and CUDA give identical bits.
template <class V>
SPIKEOPS_HOST_DEVICE V log_f32(V x) {
  V e;
  V m = split_exponent(x, e);
  const Mask<V> low = lt(m, V(0.707106781186547524f));
  e = select(low, e - V(1.0f), e);
  m = select(low, m + m, m) - V(1.0f);
  const V z = m * m;
  V p = V(7.0376836292e-2f);
  p = p * m + V(-1.1514610310e-1f);
  p = p * m + V(1.1676998740e-1f);
  p = p * m + V(-1.2420140846e-1f);
  p = p * m + V(1.4249322787e-1f);
  p = p * m + V(-1.6668057665e-1f);
  p = p * m + V(2.0000714765e-1f);
  p = p * m + V(-2.4999993993e-1f);
  p = p * m + V(3.3333331174e-1f);
  V y = p * m * z + V(-2.12194440e-4f) * e;
  y = y - V(0.5f) * z;
  return select(eq(x, x), (m + y) + V(0.693359375f) * e, x);  // NaN in, NaN out
}

SPIKEOPS_HOST_DEVICE float vlog(float x) { return log_f32(x); }
SPIKEOPS_HOST_DEVICE double vlog(double x) { return log(x); }
SPIKEOPS_HOST_DEVICE double vlog1p(double x) { return log1p(x); }

// log(1 + a) for a > -1, accurate for small a: log(u) a / (u - 1) with u = 1 + a
// cancels u's rounding error (Goldberg); a itself where u rounds to 1.
template <class V>
SPIKEOPS_HOST_DEVICE V vlog1p(V a) {
  const V u = V(1.0f) + a;
  return select(eq(u, V(1.0f)), a, vlog(u) * (a / (u - V(1.0f))));
}

SPIKEOPS_HOST_DEVICE double vexpm1(double x) { return expm1(x); }

// exp(x) - 1, accurate for small x: (u - 1) x / log(u) with u = exp(x) cancels u's
// rounding error (Kahan); x itself where u rounds to 1, -1 where u - 1 rounds to -1.
template <class V>
SPIKEOPS_HOST_DEVICE V vexpm1(V x) {
  const V u = vexp(x);
  const V um1 = u - V(1.0f);
  return select(eq(u, V(1.0f)), x, select(eq(um1, V(-1.0f)), um1, um1 * (x / vlog(u))));
}

// 1.0 where the mask is set, else 0.0.
template <class V> SPIKEOPS_HOST_DEVICE V as_value(Mask<V> m) { return select(m, V(1.0f), V(0.0f)); }

}  // namespace spikeops
