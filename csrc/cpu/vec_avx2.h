// AVX2 versions of the primitives in include/spikeops/math.h: 8 float lanes,
// masks as all-ones lanes; and 8 int32 lanes for the fixed-point neuron.
// Included only by the AVX2 translation units.
#pragma once

#include <immintrin.h>

#include <cmath>

#include <type_traits>

#include "spikeops/half.h"
#include "spikeops/math.h"

namespace spikeops {

struct F32x8 {
  __m256 v;
  F32x8() = default;
  F32x8(__m256 x) : v(x) {}
  F32x8(float x) : v(_mm256_set1_ps(x)) {}
};
struct M8 {
  __m256 m;
};
template <> struct MaskOf<F32x8> { using type = M8; };

static inline F32x8 operator+(F32x8 a, F32x8 b) { return _mm256_add_ps(a.v, b.v); }
static inline F32x8 operator-(F32x8 a, F32x8 b) { return _mm256_sub_ps(a.v, b.v); }
static inline F32x8 operator*(F32x8 a, F32x8 b) { return _mm256_mul_ps(a.v, b.v); }
static inline F32x8 operator/(F32x8 a, F32x8 b) { return _mm256_div_ps(a.v, b.v); }
static inline M8 gt(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
static inline M8 lt(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
static inline M8 eq(F32x8 a, F32x8 b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
static inline M8 mask_and(M8 a, M8 b) { return {_mm256_and_ps(a.m, b.m)}; }
static inline M8 mask_andnot(M8 a, M8 b) { return {_mm256_andnot_ps(b.m, a.m)}; }
static inline M8 mask_or(M8 a, M8 b) { return {_mm256_or_ps(a.m, b.m)}; }
static inline M8 mask_xor(M8 a, M8 b) { return {_mm256_xor_ps(a.m, b.m)}; }
static inline F32x8 select(M8 m, F32x8 a, F32x8 b) { return _mm256_blendv_ps(b.v, a.v, m.m); }
static inline bool any(M8 m) { return _mm256_movemask_ps(m.m) != 0; }
// Bit k set where lane k of the mask is.
static inline uint32_t lane_bits(M8 m) { return static_cast<uint32_t>(_mm256_movemask_ps(m.m)); }
static inline F32x8 vabs(F32x8 a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v); }
static inline F32x8 vmax(F32x8 a, F32x8 b) { return _mm256_max_ps(a.v, b.v); }
static inline F32x8 vmin(F32x8 a, F32x8 b) { return _mm256_min_ps(a.v, b.v); }
static inline F32x8 vfloor(F32x8 a) { return _mm256_floor_ps(a.v); }
static inline F32x8 pow2i(F32x8 n) {
  const __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n.v), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
static inline F32x8 vexp(F32x8 x) { return exp_f32(x); }
static inline F32x8 split_exponent(F32x8 x, F32x8& e) {
  const __m256i bits = _mm256_castps_si256(x.v);
  const __m256i biased = _mm256_and_si256(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(0xff));
  e = _mm256_cvtepi32_ps(_mm256_sub_epi32(biased, _mm256_set1_epi32(126)));
  const __m256i m = _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(static_cast<int32_t>(0x807fffff))),
                                    _mm256_set1_epi32(0x3f000000));
  return _mm256_castsi256_ps(m);
}
static inline F32x8 vlog(F32x8 x) { return log_f32(x); }

// 4 double lanes (the float64 LIF kernels). exp calls the C library per lane, as the
// scalar kernel does, so every ISA gives the same bits.
struct F64x4 {
  __m256d v;
  F64x4() = default;
  F64x4(__m256d x) : v(x) {}
  F64x4(double x) : v(_mm256_set1_pd(x)) {}
};
struct M4d {
  __m256d m;
};
template <> struct MaskOf<F64x4> { using type = M4d; };

static inline F64x4 operator+(F64x4 a, F64x4 b) { return _mm256_add_pd(a.v, b.v); }
static inline F64x4 operator-(F64x4 a, F64x4 b) { return _mm256_sub_pd(a.v, b.v); }
static inline F64x4 operator*(F64x4 a, F64x4 b) { return _mm256_mul_pd(a.v, b.v); }
static inline F64x4 operator/(F64x4 a, F64x4 b) { return _mm256_div_pd(a.v, b.v); }
static inline M4d gt(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
static inline M4d lt(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
static inline M4d eq(F64x4 a, F64x4 b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
static inline M4d mask_and(M4d a, M4d b) { return {_mm256_and_pd(a.m, b.m)}; }
static inline M4d mask_andnot(M4d a, M4d b) { return {_mm256_andnot_pd(b.m, a.m)}; }
static inline F64x4 select(M4d m, F64x4 a, F64x4 b) { return _mm256_blendv_pd(b.v, a.v, m.m); }
static inline bool any(M4d m) { return _mm256_movemask_pd(m.m) != 0; }
static inline uint32_t lane_bits(M4d m) { return static_cast<uint32_t>(_mm256_movemask_pd(m.m)); }
static inline F64x4 vabs(F64x4 a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v); }
static inline F64x4 vmax(F64x4 a, F64x4 b) { return _mm256_max_pd(a.v, b.v); }
static inline F64x4 vmin(F64x4 a, F64x4 b) { return _mm256_min_pd(a.v, b.v); }
static inline F64x4 vexp(F64x4 x) {
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, x.v);
  for (double& l : lanes) l = std::exp(l);
  return _mm256_load_pd(lanes);
}

// 8 int32 lanes (include/spikeops/lif_fixed.h's primitives).
struct I32x8 {
  __m256i v;
  I32x8() = default;
  I32x8(__m256i x) : v(x) {}
  I32x8(int32_t x) : v(_mm256_set1_epi32(x)) {}
};
struct M8i {
  __m256i m;
};
template <> struct MaskOf<I32x8> { using type = M8i; };

static inline I32x8 operator+(I32x8 a, I32x8 b) { return _mm256_add_epi32(a.v, b.v); }
static inline I32x8 operator-(I32x8 a, I32x8 b) { return _mm256_sub_epi32(a.v, b.v); }
static inline I32x8 operator*(I32x8 a, I32x8 b) { return _mm256_mullo_epi32(a.v, b.v); }
static inline I32x8 wrapping_add(I32x8 a, I32x8 b) { return a + b; }
template <int K> inline I32x8 shift_left(I32x8 a) { return _mm256_slli_epi32(a.v, K); }
template <int K> inline I32x8 shift_right(I32x8 a) { return _mm256_srai_epi32(a.v, K); }
static inline I32x8 bit_and(I32x8 a, I32x8 b) { return _mm256_and_si256(a.v, b.v); }
static inline I32x8 iabs(I32x8 a) { return _mm256_abs_epi32(a.v); }
static inline I32x8 with_sign_of(I32x8 a, I32x8 s) { return _mm256_sign_epi32(a.v, s.v); }  // a = 0 where s = 0
static inline I32x8 vmin(I32x8 a, I32x8 b) { return _mm256_min_epi32(a.v, b.v); }
static inline I32x8 vmax(I32x8 a, I32x8 b) { return _mm256_max_epi32(a.v, b.v); }
static inline M8i gt(I32x8 a, I32x8 b) { return {_mm256_cmpgt_epi32(a.v, b.v)}; }
static inline M8i mask_andnot(M8i a, M8i b) { return {_mm256_andnot_si256(b.m, a.m)}; }
static inline I32x8 select(M8i m, I32x8 a, I32x8 b) { return _mm256_blendv_epi8(b.v, a.v, m.m); }

namespace cpu {
struct Avx2IntIsa {
  using V = I32x8;
  static constexpr int64_t kWidth = 8;
  static V load(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(int32_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v.v); }
  static void store_spikes(uint8_t* p, M8i m) {  // all-ones lanes -> bytes of 1
    const __m256i ones = _mm256_srli_epi32(m.m, 31);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(ones), _mm256_extracti128_si256(ones, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(words, words));
  }
};

struct Avx2F64Isa {
  using V = F64x4;
  static constexpr int64_t kWidth = 4;
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v.v); }
  // Non-temporal store; p is 32-byte aligned.
  static void store_stream(double* p, V v) { _mm256_stream_pd(p, v.v); }
  static void fence() { _mm_sfence(); }
  static V load_i32(const int32_t* p) { return _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static void store_i32(int32_t* p, V v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvttpd_epi32(v.v));
  }
  static V load_u16(const uint16_t* p) {
    return _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static void store_u16(uint16_t* p, V v) {
    const __m128i i = _mm256_cvttpd_epi32(vmin(v, F64x4(65535.0)).v);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi32(i, i));
  }
};

struct Avx2Isa {
  using V = F32x8;
  static constexpr int64_t kWidth = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v.v); }
  // Non-temporal store; p is 32-byte aligned.
  static void store_stream(float* p, V v) { _mm256_stream_ps(p, v.v); }
  static void fence() { _mm_sfence(); }
  static V load_i32(const int32_t* p) {
    return _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store_i32(int32_t* p, V v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvttps_epi32(v.v));
  }
  static V load_u16(const uint16_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static void store_u16(uint16_t* p, V v) {
    const __m256i i = _mm256_cvttps_epi32(vmin(v, F32x8(65535.0f)).v);
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
  static void store_u8(uint8_t* p, V v) {  // v in [0, 255]
    const __m256i i = _mm256_cvttps_epi32(v.v);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(words, words));
  }

  // 16-bit storage (include/spikeops/half.h; float16 through F16C): widening is
  // exact; narrowing rounds to nearest even, NaN to 0x7fff.
  static V load(const Float16* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V load(const BFloat16* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static __m128i narrow(Float16*, V v) {
    // A NaN whose top mantissa bits are all set converts to 0x7fff.
    const __m256 nan = _mm256_cmp_ps(v.v, v.v, _CMP_UNORD_Q);
    const __m256 x = _mm256_blendv_ps(v.v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffe000)), nan);
    return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static __m128i narrow(BFloat16*, V v) {
    const __m256i lanes = narrow_bf16_lanes(v);
    return _mm_packus_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
  }
  // The bits of values known to be exact in H (spikes: 0 or 1), without rounding.
  static __m128i exact_bits(Float16*, V v) { return _mm256_cvtps_ph(v.v, _MM_FROUND_TO_NEAREST_INT); }
  static __m128i exact_bits(BFloat16*, V v) {
    const __m256i hi = _mm256_srli_epi32(_mm256_castps_si256(v.v), 16);
    return _mm_packus_epi32(_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1));
  }
  static V widen(Float16*, __m128i bits) { return _mm256_cvtph_ps(bits); }
  static V widen(BFloat16*, __m128i bits) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
  template <class H>
  static __m128i load_bits(const H* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  template <bool Stream, class H>
  static void store_bits(H* p, __m128i bits) {
    if constexpr (Stream)
      _mm_stream_si128(reinterpret_cast<__m128i*>(p), bits);
    else
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), bits);
  }
  template <class H>
  static void store(H* p, V v) { store_bits<false>(p, narrow(p, v)); }
  template <class H>
  static void store_stream(H* p, V v) { store_bits<true>(p, narrow(p, v)); }

 private:
  static __m256i narrow_bf16_lanes(V v) {  // the bfloat16 bits in the low half of each 32-bit lane
    const __m256i x = _mm256_castps_si256(v.v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    const __m256 nan = _mm256_cmp_ps(v.v, v.v, _CMP_UNORD_Q);
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff)), nan));
  }
};
}  // namespace cpu

}  // namespace spikeops
