// AVX-512 versions of the primitives in include/spikeops/math.h: 16 float lanes,
// k-register masks; 8 double lanes; and 16 int32 lanes for the fixed-point neuron. Included
// only by the AVX-512 translation units.
#pragma once

#include <immintrin.h>

#include <cmath>

#include <type_traits>

#include "spikeops/half.h"
#include "spikeops/math.h"

namespace spikeops {

struct F32x16 {
  __m512 v;
  F32x16() = default;
  F32x16(__m512 x) : v(x) {}
  F32x16(float x) : v(_mm512_set1_ps(x)) {}
};
struct M16 {
  __mmask16 m;
};
template <> struct MaskOf<F32x16> { using type = M16; };

static inline F32x16 operator+(F32x16 a, F32x16 b) { return _mm512_add_ps(a.v, b.v); }
static inline F32x16 operator-(F32x16 a, F32x16 b) { return _mm512_sub_ps(a.v, b.v); }
static inline F32x16 operator*(F32x16 a, F32x16 b) { return _mm512_mul_ps(a.v, b.v); }
static inline F32x16 operator/(F32x16 a, F32x16 b) { return _mm512_div_ps(a.v, b.v); }
static inline M16 gt(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
static inline M16 lt(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
static inline M16 eq(F32x16 a, F32x16 b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
static inline M16 mask_and(M16 a, M16 b) { return {static_cast<__mmask16>(a.m & b.m)}; }
static inline M16 mask_andnot(M16 a, M16 b) { return {static_cast<__mmask16>(a.m & ~b.m)}; }
static inline M16 mask_or(M16 a, M16 b) { return {static_cast<__mmask16>(a.m | b.m)}; }
static inline M16 mask_xor(M16 a, M16 b) { return {static_cast<__mmask16>(a.m ^ b.m)}; }
static inline F32x16 select(M16 m, F32x16 a, F32x16 b) { return _mm512_mask_blend_ps(m.m, b.v, a.v); }
static inline bool any(M16 m) { return m.m != 0; }
// Bit k set where lane k of the mask is.
static inline uint32_t lane_bits(M16 m) { return m.m; }
static inline F32x16 vabs(F32x16 a) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(0x7fffffff)));
}
static inline F32x16 vmax(F32x16 a, F32x16 b) { return _mm512_max_ps(a.v, b.v); }
static inline F32x16 vmin(F32x16 a, F32x16 b) { return _mm512_min_ps(a.v, b.v); }
static inline F32x16 vfloor(F32x16 a) {
  return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
static inline F32x16 pow2i(F32x16 n) {
  const __m512i e = _mm512_add_epi32(_mm512_cvttps_epi32(n.v), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
static inline F32x16 split_exponent(F32x16 x, F32x16& e) {
  const __m512i bits = _mm512_castps_si512(x.v);
  const __m512i biased = _mm512_and_si512(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(0xff));
  e = _mm512_cvtepi32_ps(_mm512_sub_epi32(biased, _mm512_set1_epi32(126)));
  const __m512i m = _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(static_cast<int32_t>(0x807fffff))),
                                    _mm512_set1_epi32(0x3f000000));
  return _mm512_castsi512_ps(m);
}
static inline F32x16 vexp(F32x16 x) { return exp_f32(x); }
static inline F32x16 vlog(F32x16 x) { return log_f32(x); }

// 8 double lanes (the float64 LIF kernels). exp calls the C library per lane, as the
// scalar kernel does, so every ISA gives the same bits.
struct F64x8 {
  __m512d v;
  F64x8() = default;
  F64x8(__m512d x) : v(x) {}
  F64x8(double x) : v(_mm512_set1_pd(x)) {}
};
struct M8d {
  __mmask8 m;
};
template <> struct MaskOf<F64x8> { using type = M8d; };

static inline F64x8 operator+(F64x8 a, F64x8 b) { return _mm512_add_pd(a.v, b.v); }
static inline F64x8 operator-(F64x8 a, F64x8 b) { return _mm512_sub_pd(a.v, b.v); }
static inline F64x8 operator*(F64x8 a, F64x8 b) { return _mm512_mul_pd(a.v, b.v); }
static inline F64x8 operator/(F64x8 a, F64x8 b) { return _mm512_div_pd(a.v, b.v); }
static inline M8d gt(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
static inline M8d lt(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)}; }
static inline M8d eq(F64x8 a, F64x8 b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
static inline M8d mask_and(M8d a, M8d b) { return {static_cast<__mmask8>(a.m & b.m)}; }
static inline M8d mask_andnot(M8d a, M8d b) { return {static_cast<__mmask8>(a.m & ~b.m)}; }
static inline F64x8 select(M8d m, F64x8 a, F64x8 b) { return _mm512_mask_blend_pd(m.m, b.v, a.v); }
static inline bool any(M8d m) { return m.m != 0; }
static inline uint32_t lane_bits(M8d m) { return m.m; }
static inline F64x8 vabs(F64x8 a) {
  return _mm512_castsi512_pd(
      _mm512_and_si512(_mm512_castpd_si512(a.v), _mm512_set1_epi64(0x7fffffffffffffffLL)));
}
static inline F64x8 vmax(F64x8 a, F64x8 b) { return _mm512_max_pd(a.v, b.v); }
static inline F64x8 vmin(F64x8 a, F64x8 b) { return _mm512_min_pd(a.v, b.v); }
static inline F64x8 vexp(F64x8 x) {
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, x.v);
  for (double& l : lanes) l = std::exp(l);
  return _mm512_load_pd(lanes);
}

// 16 int32 lanes (include/spikeops/lif_fixed.h's primitives), masks as for floats.
struct I32x16 {
  __m512i v;
  I32x16() = default;
  I32x16(__m512i x) : v(x) {}
  I32x16(int32_t x) : v(_mm512_set1_epi32(x)) {}
};
template <> struct MaskOf<I32x16> { using type = M16; };

static inline I32x16 operator+(I32x16 a, I32x16 b) { return _mm512_add_epi32(a.v, b.v); }
static inline I32x16 operator-(I32x16 a, I32x16 b) { return _mm512_sub_epi32(a.v, b.v); }
static inline I32x16 operator*(I32x16 a, I32x16 b) { return _mm512_mullo_epi32(a.v, b.v); }
static inline I32x16 wrapping_add(I32x16 a, I32x16 b) { return a + b; }
template <int K> inline I32x16 shift_left(I32x16 a) { return _mm512_slli_epi32(a.v, K); }
template <int K> inline I32x16 shift_right(I32x16 a) { return _mm512_srai_epi32(a.v, K); }
static inline I32x16 bit_and(I32x16 a, I32x16 b) { return _mm512_and_si512(a.v, b.v); }
static inline I32x16 iabs(I32x16 a) { return _mm512_abs_epi32(a.v); }
static inline I32x16 with_sign_of(I32x16 a, I32x16 s) {
  return _mm512_mask_sub_epi32(a.v, _mm512_cmplt_epi32_mask(s.v, _mm512_setzero_si512()), _mm512_setzero_si512(),
                               a.v);
}
static inline I32x16 vmin(I32x16 a, I32x16 b) { return _mm512_min_epi32(a.v, b.v); }
static inline I32x16 vmax(I32x16 a, I32x16 b) { return _mm512_max_epi32(a.v, b.v); }
static inline M16 gt(I32x16 a, I32x16 b) { return {_mm512_cmpgt_epi32_mask(a.v, b.v)}; }
static inline I32x16 select(M16 m, I32x16 a, I32x16 b) { return _mm512_mask_blend_epi32(m.m, b.v, a.v); }

namespace cpu {
struct Avx512IntIsa {
  using V = I32x16;
  static constexpr int64_t kWidth = 16;
  static V load(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void store(int32_t* p, V v) { _mm512_storeu_si512(p, v.v); }
  static void store_spikes(uint8_t* p, M16 m) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(_mm512_maskz_set1_epi32(m.m, 1)));
  }
};

struct Avx512F64Isa {
  using V = F64x8;
  static constexpr int64_t kWidth = 8;
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v.v); }
  // Non-temporal store; p is 64-byte aligned.
  static void store_stream(double* p, V v) { _mm512_stream_pd(p, v.v); }
  static void fence() { _mm_sfence(); }
  static V load_i32(const int32_t* p) {
    return _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store_i32(int32_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvttpd_epi32(v.v));
  }
  static V load_u16(const uint16_t* p) {
    return _mm512_cvtepi32_pd(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static void store_u16(uint16_t* p, V v) {
    const __m256i i = _mm512_cvttpd_epi32(vmin(v, F64x8(65535.0)).v);
    const __m256i words = _mm512_cvtepi32_epi16(_mm512_castsi256_si512(i));  // the low 8 are ours
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(words));
  }
};

struct Avx512Isa {
  using V = F32x16;
  static constexpr int64_t kWidth = 16;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v.v); }
  // Non-temporal store; p is 64-byte aligned.
  static void store_stream(float* p, V v) { _mm512_stream_ps(p, v.v); }
  static void fence() { _mm_sfence(); }
  static V load_i32(const int32_t* p) { return _mm512_cvtepi32_ps(_mm512_loadu_si512(p)); }
  static void store_i32(int32_t* p, V v) { _mm512_storeu_si512(p, _mm512_cvttps_epi32(v.v)); }
  static V load_u16(const uint16_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
  }
  static void store_u16(uint16_t* p, V v) {
    const __m512i i = _mm512_cvttps_epi32(vmin(v, F32x16(65535.0f)).v);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtusepi32_epi16(i));
  }
  static void store_u8(uint8_t* p, V v) {  // v in [0, 255]
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v.v)));
  }

  // 16-bit storage (include/spikeops/half.h): widening is exact; narrowing rounds
  // to nearest even, NaN to 0x7fff.
  static V load(const Float16* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static V load(const BFloat16* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  static __m256i narrow(Float16*, V v) {
    // A NaN whose top mantissa bits are all set converts to 0x7fff.
    const __mmask16 nan = _mm512_cmp_ps_mask(v.v, v.v, _CMP_UNORD_Q);
    const __m512 x = _mm512_mask_blend_ps(nan, v.v, _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffe000)));
    return _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static __m256i narrow(BFloat16*, V v) { return _mm512_cvtepi32_epi16(narrow_bf16_lanes(v)); }
  // The bits of values known to be exact in H (spikes: 0 or 1), without rounding.
  static __m256i exact_bits(Float16*, V v) { return _mm512_cvtps_ph(v.v, _MM_FROUND_TO_NEAREST_INT); }
  static __m256i exact_bits(BFloat16*, V v) {
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(v.v), 16));
  }
  static V widen(Float16*, __m256i bits) { return _mm512_cvtph_ps(bits); }
  static V widen(BFloat16*, __m256i bits) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
  }
  template <class H>
  static __m256i load_bits(const H* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  template <bool Stream, class H>
  static void store_bits(H* p, __m256i bits) {
    if constexpr (Stream)
      _mm256_stream_si256(reinterpret_cast<__m256i*>(p), bits);
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), bits);
  }
  template <class H>
  static void store(H* p, V v) { store_bits<false>(p, narrow(p, v)); }
  template <class H>
  static void store_stream(H* p, V v) { store_bits<true>(p, narrow(p, v)); }

 private:
  static __m512i narrow_bf16_lanes(V v) {  // the bfloat16 bits in the low half of each 32-bit lane
    const __m512i x = _mm512_castps_si512(v.v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(x, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    return _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(v.v, v.v, _CMP_UNORD_Q), r, _mm512_set1_epi32(0x7fff));
  }
};
}  // namespace cpu

}  // namespace spikeops
