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
template <class V> SPIKEOPS_HOST_DEVICE V select(bool m, V a, V b) { return m ? a : b; }
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
SPIKEOPS_HOST_DEVICE V exp_f32(V x) {
  x = vmin(vmax(x, V(-87.0f)), V(88.0f));
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
  return p * pow2i(n);
}

SPIKEOPS_HOST_DEVICE float vexp(float x) { return exp_f32(x); }
SPIKEOPS_HOST_DEVICE double vexp(double x) { return exp(x); }

// 1.0 where the mask is set, else 0.0.
template <class V> SPIKEOPS_HOST_DEVICE V as_value(Mask<V> m) { return select(m, V(1.0f), V(0.0f)); }

}  // namespace spikeops
