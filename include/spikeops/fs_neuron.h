// The few-spikes (FS) neuron (SPEC section 6): K steps on input v(1) = x with
// per-step constants h(t), d(t), T(t):
//
//   z(t) = v(t) > T(t);   out += d(t) * z(t);   v(t+1) = v(t) - h(t) * z(t)
//
// and its backward pass with a surrogate derivative for z. Shared by the CPU
// and CUDA kernels.
#pragma once

#include "spikeops/math.h"
#include "spikeops/surrogate.h"

namespace spikeops {

constexpr int kFsMaxSteps = 64;
// Elements per partial sum of the coefficient gradients; the same on every
// device so the partials have one layout ([blocks, 3, K]: h, d, T).
constexpr int64_t kFsBlock = 2048;

template <class S, class F>
struct FsArgs {
  const S* x = nullptr;
  const S* grad_out = nullptr;  // backward only
  const F* h = nullptr;         // [K] each
  const F* d = nullptr;
  const F* threshold = nullptr;
  S* out = nullptr;             // forward: the output; backward: dL/dx
  uint8_t* spikes = nullptr;    // forward, optional: spikes per element
  F* grad_coef = nullptr;       // backward, optional: [ceil(n / kFsBlock), 3, K] partial sums
  int64_t n = 0;
  int32_t K = 0;
  SurrogateParams sg{};
};

// out(x) for V = F or a SIMD register of floats (branch-free: adding 0 where no
// spike leaves the same bits); adds the number of spikes to *spikes.
template <class V, class F>
SPIKEOPS_HOST_DEVICE V fs_output(V v, int K, const F* h, const F* d, const F* threshold, V* spikes) {
  const V zero = V(0.0f);
  V out = zero;
  for (int t = 0; t < K; ++t) {
    const Mask<V> fired = gt(v, V(threshold[t]));
    out = out + select(fired, V(d[t]), zero);
    v = v - select(fired, V(h[t]), zero);
    *spikes = *spikes + as_value<V>(fired);
  }
  return out;
}

// dL/dx for one element (or a SIMD register of them) given g = dL/dout; when
// grad_h is non-null, adds this element's dL/dh(t), dL/dd(t), dL/dT(t) to grad_h,
// grad_d, grad_t.
template <class V, class F>
SPIKEOPS_HOST_DEVICE V fs_input_grad(V x, V g, int K, const F* h, const F* d, const F* threshold,
                                   const SurrogateParams& sg, V* grad_h, V* grad_d, V* grad_t) {
  V v[kFsMaxSteps];
  v[0] = x;
  for (int t = 0; t + 1 < K; ++t) v[t + 1] = select(gt(v[t], V(threshold[t])), v[t] - V(h[t]), v[t]);
  V g_v(0.0f);  // dL/dv(t+1)
  for (int t = K - 1; t >= 0; --t) {
    const V u = v[t] - V(threshold[t]);
    const V z = as_value<V>(gt(u, V(0.0f)));
    const V slope = surrogate_grad(sg, u, V(1.0f), V(0.0f));
    const V g_z = g * V(d[t]) - g_v * V(h[t]);
    if (grad_h) {
      grad_h[t] = grad_h[t] - g_v * z;
      grad_d[t] = grad_d[t] + g * z;
      grad_t[t] = grad_t[t] - g_z * slope;
    }
    g_v = g_v + g_z * slope;
  }
  return g_v;
}

}  // namespace spikeops
