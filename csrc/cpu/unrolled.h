// U independent SIMD vectors handled as one value: every primitive of
// include/spikeops/math.h applied to each member. A loop whose step is one long
// dependency chain (a polynomial, the FS neuron's K steps) then keeps U chains in
// flight instead of waiting on each; every lane still sees the same operations,
// so the bits do not change.
#pragma once

#include <cstdint>

#include "spikeops/math.h"

namespace spikeops {

template <class V, int U>
struct Unrolled {
  V v[U];
  Unrolled() = default;
  Unrolled(float x) {
    for (V& e : v) e = V(x);
  }
  Unrolled(double x) : Unrolled(static_cast<float>(x)) {}
};

template <class M, int U>
struct UnrolledMask {
  M m[U];
};
template <class V, int U> struct MaskOf<Unrolled<V, U>> { using type = UnrolledMask<Mask<V>, U>; };

// f applied member by member to values (Unrolled) or masks (UnrolledMask).
template <class R, class F, class... A>
inline R lift(F f, const A&... a) {
  R o;
  for (int j = 0; j < static_cast<int>(sizeof(o.v) / sizeof(o.v[0])); ++j) o.v[j] = f(a.v[j]...);
  return o;
}
template <class R, class F, class... A>
inline R lift_mask(F f, const A&... a) {
  R o;
  for (int j = 0; j < static_cast<int>(sizeof(o.m) / sizeof(o.m[0])); ++j) o.m[j] = f(a.v[j]...);
  return o;
}

#define SPIKEOPS_UNROLLED_OPERATOR(op)                                                          \
  template <class V, int U>                                                                     \
  inline Unrolled<V, U> operator op(const Unrolled<V, U>& a, const Unrolled<V, U>& b) {          \
    return lift<Unrolled<V, U>>([](V x, V y) { return x op y; }, a, b);                          \
  }
SPIKEOPS_UNROLLED_OPERATOR(+)
SPIKEOPS_UNROLLED_OPERATOR(-)
SPIKEOPS_UNROLLED_OPERATOR(*)
SPIKEOPS_UNROLLED_OPERATOR(/)
#undef SPIKEOPS_UNROLLED_OPERATOR

template <class V, int U> inline UnrolledMask<Mask<V>, U> gt(const Unrolled<V, U>& a, const Unrolled<V, U>& b) {
  return lift_mask<UnrolledMask<Mask<V>, U>>([](V x, V y) { return gt(x, y); }, a, b);
}
template <class V, int U> inline UnrolledMask<Mask<V>, U> lt(const Unrolled<V, U>& a, const Unrolled<V, U>& b) {
  return lift_mask<UnrolledMask<Mask<V>, U>>([](V x, V y) { return lt(x, y); }, a, b);
}
template <class V, int U> inline UnrolledMask<Mask<V>, U> eq(const Unrolled<V, U>& a, const Unrolled<V, U>& b) {
  return lift_mask<UnrolledMask<Mask<V>, U>>([](V x, V y) { return eq(x, y); }, a, b);
}
template <class M, int U, class V>
inline Unrolled<V, U> select(const UnrolledMask<M, U>& m, const Unrolled<V, U>& a, const Unrolled<V, U>& b) {
  Unrolled<V, U> o;
  for (int j = 0; j < U; ++j) o.v[j] = select(m.m[j], a.v[j], b.v[j]);
  return o;
}
template <class V, int U> inline Unrolled<V, U> vabs(const Unrolled<V, U>& a) {
  return lift<Unrolled<V, U>>([](V x) { return vabs(x); }, a);
}
template <class V, int U> inline Unrolled<V, U> vmax(const Unrolled<V, U>& a, const Unrolled<V, U>& b) {
  return lift<Unrolled<V, U>>([](V x, V y) { return vmax(x, y); }, a, b);
}
template <class V, int U> inline Unrolled<V, U> vmin(const Unrolled<V, U>& a, const Unrolled<V, U>& b) {
  return lift<Unrolled<V, U>>([](V x, V y) { return vmin(x, y); }, a, b);
}
template <class V, int U> inline Unrolled<V, U> vexp(const Unrolled<V, U>& a) {
  return lift<Unrolled<V, U>>([](V x) { return vexp(x); }, a);
}
template <class V, int U> inline Unrolled<V, U> vlog(const Unrolled<V, U>& a) {
  return lift<Unrolled<V, U>>([](V x) { return vlog(x); }, a);
}

namespace cpu {
// The ISA policy of U vectors of ISA I at a time (loads and stores member by member).
template <class I, int U>
struct UnrolledIsa {
  using V = Unrolled<typename I::V, U>;
  static constexpr int64_t kWidth = U * I::kWidth;
  static V load(const float* p) {
    V o;
    for (int j = 0; j < U; ++j) o.v[j] = I::load(p + j * I::kWidth);
    return o;
  }
  static void store(float* p, const V& x) {
    for (int j = 0; j < U; ++j) I::store(p + j * I::kWidth, x.v[j]);
  }
  static void store_u8(uint8_t* p, const V& x) {
    for (int j = 0; j < U; ++j) I::store_u8(p + j * I::kWidth, x.v[j]);
  }
};
}  // namespace cpu

}  // namespace spikeops
