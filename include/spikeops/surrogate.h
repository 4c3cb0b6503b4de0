// Surrogate derivatives sigma'(u), u = h - theta, used in place of the
// Heaviside's derivative in the backward pass (docs/math.md §2).
#pragma once

#include <type_traits>

#include "spikeops/math.h"

namespace spikeops {

enum class SurrogateKind : int32_t {
  ATan = 0,         // height / (1 + (pi/2 * alpha * u)^2)          height defaults to alpha/2
  FastSigmoid = 1,  // height / (1 + k|u|)^2                        height defaults to 1
  Sigmoid = 2,      // 4 height * sig(k u) * (1 - sig(k u))         height defaults to k/4
  Triangle = 3,     // height * max(0, 1 - |u| / w)                 w = theta when width <= 0
  Rectangle = 4,    // height where |u| < w/2                       height defaults to 1/w
  STDB = 5,         // height * exp(-beta * age) / theta            (width holds beta)
  Linear = 6,       // height * max(0, 1 - |u| / theta) / theta     (Bellec et al.: d/dh of a triangle in h/theta)
  STDBFloat32 = 7,  // stdb, 0 where age >= 104: the hybrid-conversion code's float32 exp(-age)^beta underflows there
  FsTriangle = 8,   // FS neuron only: height * max(0, 1 - |s|) on s = (v - T) / (|v| + 1), chained to v and T
};
constexpr int32_t kNumSurrogates = 9;
// The age at which float32 exp(-age) rounds to 0.
constexpr float kStdbFloat32Underflow = 104.0f;

// The surrogates that read spike ages (the forward pass must track and save them).
SPIKEOPS_HOST_DEVICE constexpr bool uses_spike_ages(SurrogateKind kind) {
  return kind == SurrogateKind::STDB || kind == SurrogateKind::STDBFloat32;
}
// Their names, by value: Python's spikeops.kinds.SurrogateKind is made from these.
constexpr const char* kSurrogateNames[kNumSurrogates] = {"atan", "fast_sigmoid", "sigmoid", "triangle",
                                                         "rectangle", "stdb", "linear", "stdb_float32", "fs_triangle"};

// Constants of one surrogate, derived once from (kind, height, width) in the
// real type R of the kernel's state: float, or double for float64 data.
template <class R>
struct SurrogateParamsOf {
  SurrogateKind kind;
  R height;
  R width;  // alpha / slope k / w / beta, depending on kind
  R scale;  // the derived multiplier of u (pi/2*alpha, k, 1/w, -beta)
  bool width_is_theta;
};
using SurrogateParams = SurrogateParamsOf<float>;

template <class R = float>
inline SurrogateParamsOf<R> make_surrogate(int32_t kind, double height, double width) {
  const R w = static_cast<R>(width);
  SurrogateParamsOf<R> p{static_cast<SurrogateKind>(kind), static_cast<R>(height), w, R(0), false};
  switch (p.kind) {
    case SurrogateKind::ATan: p.scale = static_cast<R>(1.57079632679489662) * w; break;
    case SurrogateKind::FastSigmoid:
    case SurrogateKind::Sigmoid: p.scale = w; break;
    case SurrogateKind::Triangle:
      p.width_is_theta = w <= R(0);
      p.scale = p.width_is_theta ? R(0) : R(1) / w;
      break;
    case SurrogateKind::Rectangle: p.scale = R(0.5) * w; break;
    case SurrogateKind::STDB:
    case SurrogateKind::STDBFloat32: p.scale = -w; break;
    case SurrogateKind::Linear:
    case SurrogateKind::FsTriangle: break;
  }
  return p;
}

// The same surrogate's constants in another real type (from its height and width).
template <class R, class From>
inline SurrogateParamsOf<R> surrogate_as(const SurrogateParamsOf<From>& p) {
  return make_surrogate<R>(static_cast<int32_t>(p.kind), p.height, p.width);
}

// SurrogateParams with the kind fixed at compile time: surrogate_grad's switch folds away.
template <SurrogateKind K, class R = float>
struct StaticSurrogate : SurrogateParamsOf<R> {
  static constexpr SurrogateKind kind = K;
};
// Not a kind: "read the kind at run time" (SurrogateOf gives plain SurrogateParamsOf).
constexpr SurrogateKind kRuntimeSurrogate = static_cast<SurrogateKind>(-1);
template <SurrogateKind K, class R = float>
using SurrogateOf = std::conditional_t<K == kRuntimeSurrogate, SurrogateParamsOf<R>, StaticSurrogate<K, R>>;

// sigma'(u) for a neuron with threshold theta whose current spike age is age.
// SG is a SurrogateParamsOf or a StaticSurrogate.
template <class SG, class V>
SPIKEOPS_HOST_DEVICE V surrogate_grad(const SG& sg, V u, V theta, V age) {
  const V height(sg.height);
  switch (sg.kind) {
    case SurrogateKind::ATan: {
      const V z = V(sg.scale) * u;
      return height / (V(1.0f) + z * z);
    }
    case SurrogateKind::FastSigmoid: {
      const V d = V(1.0f) + V(sg.scale) * vabs(u);
      return height / (d * d);
    }
    case SurrogateKind::Sigmoid: {
      const V sig = V(1.0f) / (V(1.0f) + vexp(V(0.0f) - V(sg.scale) * u));
      return V(4.0f) * height * sig * (V(1.0f) - sig);
    }
    case SurrogateKind::Triangle: {
      const V rel = sg.width_is_theta ? vabs(u) / theta : vabs(u) * V(sg.scale);
      return height * vmax(V(0.0f), V(1.0f) - rel);  // vmax(a, b) is b where either is NaN
    }
    case SurrogateKind::Rectangle:
      return select(eq(u, u), select(lt(vabs(u), V(sg.scale)), height, V(0.0f)), u);
    case SurrogateKind::STDB:
      return height * vexp(V(sg.scale) * age) / theta;
    case SurrogateKind::STDBFloat32:
      return select(lt(age, V(kStdbFloat32Underflow)), height * vexp(V(sg.scale) * age) / theta, V(0.0f));
    case SurrogateKind::Linear: {
      const V inv_theta = V(1.0f) / theta;
      return height * vmax(V(0.0f), V(1.0f) - vabs(u) * inv_theta) * inv_theta;
    }
    case SurrogateKind::FsTriangle:  // needs the membrane itself: fs_neuron.h evaluates it
      return V(0.0f);
  }
  return V(0.0f);
}

}  // namespace spikeops
