// The few-spikes (FS) neuron (docs/math.md §6): K steps on input v(1) = x with
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
  SurrogateParamsOf<F> sg{};
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

// The backward pass, built from two steps (t counts from 0; v[0] = x):
//
//   fs_next_membrane   v[t+1] from v[t], the recurrence the pass sweeps forward;
//   fs_grad_step       backward through step t: dL/dv[t] from dL/dv[t+1], and
//                      the element's terms of dL/dh(t), dL/dd(t), dL/dT(t).
//
// Every kernel composes them in the same order (the forward sweep from x, then
// steps K-1 .. 0), so dL/dx has the same bits on every device however each
// keeps the membranes. The coefficient terms go to a sink: sink(j, gh, gd, gt),
// j the step's index within the span being run, means dL/dh(t) -= gh,
// dL/dd(t) += gd, dL/dT(t) -= gt.

template <class V, class F>
SPIKEOPS_HOST_DEVICE V fs_next_membrane(V v, int t, const F* h, const F* threshold) {
  return select(gt(v, V(threshold[t])), v - V(h[t]), v);
}

// v[t]: t steps of the recurrence from v[0] = x.
template <class V, class F>
SPIKEOPS_HOST_DEVICE V fs_membrane(V x, int t, const F* h, const F* threshold) {
  for (int s = 0; s < t; ++s) x = fs_next_membrane(x, s, h, threshold);
  return x;
}

// Backward through step t given v = v[t], g = dL/dout and g_v = dL/dv[t+1];
// returns dL/dv[t].
template <class V, class F, class Sink>
SPIKEOPS_HOST_DEVICE V fs_grad_step(V v, V g, V g_v, int t, int j, const F* h, const F* d, const F* threshold,
                                    const SurrogateParamsOf<F>& sg, Sink&& sink) {
  const V u = v - V(threshold[t]);
  const V z = as_value<V>(gt(u, V(0.0f)));
  const V g_z = g * V(d[t]) - g_v * V(h[t]);
  if (sg.kind == SurrogateKind::FsTriangle) {
    // The FS paper's code: z = [s > 0] with s = u / (|v| + 1), dz/ds = height max(0, 1 - |s|);
    // ds/dT = -1 / (|v| + 1), ds/dv = (|v| + 1 - u sign(v)) / (|v| + 1)^2.
    const V den = vabs(v) + V(1.0f);
    const V dz_ds = V(sg.height) * vmax(V(0.0f), V(1.0f) - vabs(u / den));  // NaN propagates
    const V sign_v = select(gt(v, V(0.0f)), V(1.0f), select(lt(v, V(0.0f)), V(-1.0f), V(0.0f)));
    const V slope_t = dz_ds / den;
    const V slope_v = dz_ds * ((den - u * sign_v) / (den * den));
    sink(j, g_v * z, g * z, g_z * slope_t);
    return g_v + g_z * slope_v;
  }
  const V slope = surrogate_grad(sg, u, V(1.0f), V(0.0f));
  sink(j, g_v * z, g * z, g_z * slope);
  return g_v + g_z * slope;
}

#if defined(__CUDACC__)
#define SPIKEOPS_FS_UNROLL _Pragma("unroll")
#else
#define SPIKEOPS_FS_UNROLL
#endif

// The backward pass through the steps [t0, t0 + steps), steps <= kSpan, of an
// element with v = v[t0] and g_v = dL/dv[t0 + steps] (zero after step K-1);
// returns dL/dv[t0]. A span of at most 16 steps runs loops of fixed length,
// which nvcc unrolls: its membranes, and a sink's per-step sums, stay in
// registers (the CUDA kernel runs the K steps as such spans).
template <int kSpan, class V, class F, class Sink>
SPIKEOPS_HOST_DEVICE V fs_input_grad_span(V v, V g, V g_v, int t0, int steps, const F* h, const F* d,
                                          const F* threshold, const SurrogateParamsOf<F>& sg, Sink&& sink) {
  constexpr bool kFixed = kSpan <= 16;
  V vs[kSpan];
  vs[0] = v;
  SPIKEOPS_FS_UNROLL
  for (int j = 1; j < (kFixed ? kSpan : steps); ++j) {
    if (j < steps) vs[j] = fs_next_membrane(vs[j - 1], t0 + j - 1, h, threshold);
  }
  SPIKEOPS_FS_UNROLL
  for (int j = (kFixed ? kSpan : steps) - 1; j >= 0; --j) {
    if (j < steps) g_v = fs_grad_step(vs[j], g, g_v, t0 + j, j, h, d, threshold, sg, sink);
  }
  return g_v;
}
#undef SPIKEOPS_FS_UNROLL

// Sinks: none, or adding to arrays indexed by the step.
struct FsNoSink {
  template <class V>
  SPIKEOPS_HOST_DEVICE void operator()(int, V, V, V) const {}
};

template <class V>
struct FsArraySink {
  V* grad_h;
  V* grad_d;
  V* grad_t;
  SPIKEOPS_HOST_DEVICE void operator()(int t, V gh, V gd, V gt) const {
    grad_h[t] = grad_h[t] - gh;
    grad_d[t] = grad_d[t] + gd;
    grad_t[t] = grad_t[t] - gt;
  }
};

// dL/dx for one element (or a SIMD register of them) given g = dL/dout, all K
// steps in one span; the coefficient terms go to sink (indexed by t).
template <class V, class F, class Sink>
SPIKEOPS_HOST_DEVICE V fs_input_grad(V x, V g, int K, const F* h, const F* d, const F* threshold,
                                   const SurrogateParamsOf<F>& sg, Sink&& sink) {
  return fs_input_grad_span<kFsMaxSteps>(x, g, V(0.0f), 0, K, h, d, threshold, sg, sink);
}

// The same with arrays: when grad_h is non-null, adds this element's dL/dh(t),
// dL/dd(t), dL/dT(t) to grad_h, grad_d, grad_t.
template <class V, class F>
SPIKEOPS_HOST_DEVICE V fs_input_grad(V x, V g, int K, const F* h, const F* d, const F* threshold,
                                   const SurrogateParamsOf<F>& sg, V* grad_h, V* grad_d, V* grad_t) {
  if (!grad_h) return fs_input_grad(x, g, K, h, d, threshold, sg, FsNoSink{});
  return fs_input_grad(x, g, K, h, d, threshold, sg, FsArraySink<V>{grad_h, grad_d, grad_t});
}

}  // namespace spikeops
