// 16-bit floating-point storage (docs/math.md §9): IEEE binary16 ("float16") and
// bfloat16 values held as their bits, with float32 arithmetic. Conversions to
// 16 bits round to nearest even; a NaN becomes 0x7fff, the NaN CUDA's
// conversions produce. The CPU kernels use the bit-exact software conversions
// here where the instruction set has none; CUDA uses its own, with the same
// results.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "spikeops/math.h"

namespace spikeops {

SPIKEOPS_HOST_DEVICE uint32_t float_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof(x));
  return x;
}

SPIKEOPS_HOST_DEVICE float bits_float(uint32_t x) {
  float f;
  memcpy(&f, &x, sizeof(f));
  return f;
}

// Storage types of the kernels' [T, N] buffers, layout-compatible with torch's
// at::Half / at::BFloat16 and CUDA's __half / __nv_bfloat16.
struct Float16 {
  uint16_t bits;
  static constexpr uint16_t kInfBits = 0x7c00;

  SPIKEOPS_HOST_DEVICE static float widen(uint16_t b) {
    const uint32_t sign = static_cast<uint32_t>(b & 0x8000) << 16;
    const uint32_t e = (b >> 10) & 0x1f, m = b & 0x3ff;
    if (e == 0x1f) return bits_float(sign | 0x7f800000u | (m << 13));
    if (e == 0) {  // zero or subnormal: m 2^-24, exact in float32
      const float mag = static_cast<float>(m) * 5.9604644775390625e-8f;
      return sign ? -mag : mag;
    }
    return bits_float(sign | ((e + 112) << 23) | (m << 13));
  }

  SPIKEOPS_HOST_DEVICE static uint16_t narrow(float f) {
    const uint32_t x = float_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000, u = x & 0x7fffffff;
    if (u > 0x7f800000u) return 0x7fff;
    if (u >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // at or beyond 65520: infinity
    if (u >= 0x38800000u) {                                              // a normal float16
      const uint32_t r = u - 0x38000000u;
      return static_cast<uint16_t>(sign | ((r + 0xfff + ((r >> 13) & 1)) >> 13));
    }
    if (u <= 0x33000000u) return static_cast<uint16_t>(sign);  // at most 2^-25: rounds to zero
    // A subnormal float16 k 2^-24 (k = 1024 carries into the smallest normal).
    const uint32_t shift = 126 - (u >> 23), m = (u & 0x7fffff) | 0x800000;
    uint32_t k = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (k & 1))) ++k;
    return static_cast<uint16_t>(sign | k);
  }
};

struct BFloat16 {
  uint16_t bits;
  static constexpr uint16_t kInfBits = 0x7f80;

  SPIKEOPS_HOST_DEVICE static float widen(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

  SPIKEOPS_HOST_DEVICE static uint16_t narrow(float f) {
    const uint32_t x = float_bits(f);
    if ((x & 0x7fffffff) > 0x7f800000u) return 0x7fff;
    return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
  }
};

template <class S>
constexpr bool is_16bit = false;
template <>
constexpr bool is_16bit<Float16> = true;
template <>
constexpr bool is_16bit<BFloat16> = true;

// The state, parameter and arithmetic type of kernels whose [T, N] buffers hold S.
template <class S>
using StateOf = std::conditional_t<is_16bit<S>, float, S>;

// The saved pre-spike membrane h in a 16-bit format H, given `rounded`, h rounded
// to nearest even. The backward pass recomputes each spike as (stored h > theta),
// so the stored value must keep h's side of the threshold. Rounding is monotonic
// and can only break that when theta lies between h and its rounded value; then
// the neighbour on h's side (one ulp away) is stored instead. A finite h beyond
// the format's range saturates to its largest finite value (an infinite saved h
// would make the gradients inf or NaN); -inf, the mark of a refractory step,
// stays. Only a threshold beyond the format's range can then lose the side.
template <class H>
SPIKEOPS_HOST_DEVICE uint16_t saved_h_bits(float h, float theta, uint16_t rounded) {
  if ((rounded & 0x7fff) == H::kInfBits && fabsf(h) != INFINITY) rounded -= 1;
  const bool fired = h > theta;
  if (fired == (H::widen(rounded) > theta)) return rounded;
  // Sign-magnitude bits: the step away from zero is +1, toward zero -1.
  if ((rounded & 0x7fff) == 0) return fired ? 0x0001 : 0x8001;
  return ((rounded & 0x8000) != 0) != fired ? rounded + 1 : rounded - 1;
}

}  // namespace spikeops
