// The leaky integrate-and-fire neuron (docs/math.md §1-2), defined once.
//
// Every kernel (scalar, AVX2, AVX-512, CUDA) calls lif_step_forward and
// lif_step_backward; they only differ in how they load and store V.
#pragma once

#include "spikeops/math.h"
#include "spikeops/surrogate.h"

namespace spikeops {

enum class ResetMode : int32_t { Subtract = 0, Zero = 1, None = 2 };
constexpr int32_t kNumResetModes = 3;
// Their names, by value: Python's spikeops.kinds.ResetMode is made from these.
constexpr const char* kResetModeNames[kNumResetModes] = {"subtract", "zero", "none"};

// Loop-invariant settings shared by all neurons of one call; its real constants
// in R, the state's type (float, or double for float64 data).
template <class R>
struct LifConfigOf {
  ResetMode reset;
  R v_reset;            // value of a zero reset, of the refractory hold and of the rest state
  int32_t refractory;   // steps a neuron is held at v_reset after a spike
  bool deferred_reset;  // snnTorch ordering: state is the pre-reset membrane, reset applied next step, undecayed
  bool detach_reset;    // backward: drop the surrogate terms of the reset
  bool track_age;
  SurrogateParamsOf<R> surrogate;

  SPIKEOPS_HOST_DEVICE bool refractory_on() const { return refractory > 0; }
};
using LifConfig = LifConfigOf<float>;

// The same settings with their constants in another real type.
template <class R, class From>
inline LifConfigOf<R> config_as(const LifConfigOf<From>& c) {
  return {c.reset, static_cast<R>(c.v_reset), c.refractory, c.deferred_reset, c.detach_reset, c.track_age,
          surrogate_as<R>(c.surrogate)};
}

// A LifConfig whose switches are compile-time constants, so that the step
// functions below compile to the configured case only (the CPU kernels
// instantiate one step loop per combination; see csrc/cpu/lif_kernel.h). The
// surrogate kind only matters to the backward pass; kRuntimeSurrogate leaves it
// to be read at run time.
template <class Real, ResetMode R, bool Deferred, bool Refractory, bool TrackAge,
          SurrogateKind K = kRuntimeSurrogate>
struct StaticLifConfig : LifConfigOf<Real> {
  static constexpr ResetMode reset = R;
  static constexpr bool deferred_reset = Deferred;
  static constexpr bool track_age = TrackAge;
  SurrogateOf<K, Real> surrogate;

  static constexpr bool refractory_on() { return Refractory; }
  explicit StaticLifConfig(const LifConfigOf<Real>& c) : LifConfigOf<Real>(c), surrogate{c.surrogate} {}
};

// Per-neuron parameters, already broadcast to V.
template <class V>
struct NeuronParams {
  V alpha, gamma, theta;
};

// The counters (refractory steps left, spike age) run in the state's float type,
// exact up to kCounterMax = 2^24, and are held in [0, kCounterMax]: a caller's int32
// state is read through counter_from_int, and the age stops counting there.
constexpr float kCounterMax = 16777216.0f;

template <class V>
SPIKEOPS_HOST_DEVICE V counter_from_int(V c) {
  return vmin(vmax(c, V(0.0f)), V(kCounterMax));
}

// State carried from step to step.
template <class V>
struct NeuronState {
  V v;    // membrane after the step (pre-reset membrane with deferred_reset)
  V r;    // refractory steps left
  V age;  // steps since the last spike, counting the current one (0 right after a spike)
};

// Saved in place of h for a step spent refractory (only when refractory > 0).
// A membrane of -inf is already degenerate (the next step would be NaN), so the
// marker cannot hide a meaningful value.
constexpr float kHeldMarker = -INFINITY;

template <class V>
SPIKEOPS_HOST_DEVICE Mask<V> is_held(V saved_h) {
  return eq(saved_h, V(kHeldMarker));
}

template <class V>
struct StepOutput {
  V h;      // pre-spike membrane; kHeldMarker for a refractory step
  V spike;  // 0 or 1
  V age;    // a[t]: steps since the most recent spike strictly before this step
};

// The value the decay multiplies at the next step, given the carried state v.
template <class C, class V>
SPIKEOPS_HOST_DEVICE V decayed_input(const C& c, const NeuronParams<V>& p, V v) {
  if (c.deferred_reset && c.reset == ResetMode::Zero) return select(gt(v, p.theta), V(c.v_reset), v);
  return v;
}

template <class C, class V>
SPIKEOPS_HOST_DEVICE StepOutput<V> lif_step_forward(const C& c, const NeuronParams<V>& p,
                                                    NeuronState<V>& st, V x) {
  V h = p.alpha * decayed_input(c, p, st.v) + p.gamma * x;
  if (c.deferred_reset && c.reset == ResetMode::Subtract)
    h = h - select(gt(st.v, p.theta), p.theta, V(0.0f));
  Mask<V> fired = gt(h, p.theta);
  V saved = h;
  if (c.refractory_on()) {
    const Mask<V> held = gt(st.r, V(0.0f));
    h = select(held, V(c.v_reset), h);
    fired = mask_andnot(fired, held);
    saved = select(held, V(kHeldMarker), h);
    st.r = select(fired, V(static_cast<float>(c.refractory)), vmax(st.r - V(1.0f), V(0.0f)));
  }
  const V spike = as_value<V>(fired);
  if (c.deferred_reset) {
    st.v = h;
  } else if (c.reset == ResetMode::Subtract) {
    st.v = select(fired, h - p.theta, h);
  } else if (c.reset == ResetMode::Zero) {
    st.v = select(fired, V(c.v_reset), h);
  } else {
    st.v = h;
  }
  StepOutput<V> out{saved, spike, V(0.0f)};
  if (c.track_age) {
    out.age = vmin(st.age + V(1.0f), V(kCounterMax));
    st.age = select(fired, V(0.0f), out.age);
  }
  return out;
}

// The value the decay multiplied at step t+1, recomputed from the saved h[t].
template <class C, class V>
SPIKEOPS_HOST_DEVICE V state_from_saved(const C& c, const NeuronParams<V>& p, V h) {
  const Mask<V> fired = gt(h, p.theta);
  V v;
  if (c.deferred_reset) {
    return decayed_input(c, p, h);
  } else if (c.reset == ResetMode::Subtract) {
    v = h - select(fired, p.theta, V(0.0f));
  } else if (c.reset == ResetMode::Zero) {
    v = select(fired, V(c.v_reset), h);
  } else {
    v = h;
  }
  if (c.refractory_on()) v = select(is_held(h), V(c.v_reset), v);
  return v;
}

// One step of backpropagation through time, reverse order.
//   h      saved pre-spike membrane of this step (kHeldMarker while refractory)
//   g_s    dL/ds[t]
//   g_next dL/dh[t+1] (0 after the last step)
//   g_end  dL/dv[T] at the last step, else 0
// Returns dL/dh[t] and adds this step's contribution to dL/dtheta.
// With deferred_reset the same function, given h = v0, g_s = 0, g_end = 0,
// returns dL/dv0 (the reset of step 0 is applied in step 1).
template <class C, class V>
SPIKEOPS_HOST_DEVICE V lif_step_backward(const C& c, const NeuronParams<V>& p, V h, V g_s,
                                         V g_next, V g_end, V age, V& g_theta) {
  const V u = h - p.theta;
  const V sg = surrogate_grad(c.surrogate, u, p.theta, age);
  const Mask<V> fired = gt(h, p.theta);
  const V spike = as_value<V>(fired);
  const V keep(c.detach_reset ? 0.0f : 1.0f);
  // Gradient reaching the state v[t]: through the decay, and at the end from the caller.
  const V g_v = p.alpha * g_next + (c.deferred_reset ? V(0.0f) : g_end);
  const V g_direct = c.deferred_reset ? g_end : V(0.0f);
  V coef = g_s;  // multiplies sigma'
  V g_h, d_theta;
  if (c.reset == ResetMode::Subtract) {
    // The subtracted threshold reaches h[t+1] decayed (g_v) or, deferred, undecayed (g_next).
    const V g_reset = c.deferred_reset ? g_next : g_v;
    coef = coef - keep * p.theta * g_reset;
    g_h = sg * coef + g_v + g_direct;
    d_theta = sg * coef + spike * g_reset;
  } else if (c.reset == ResetMode::Zero) {
    coef = coef - keep * g_v * (h - V(c.v_reset));
    g_h = sg * coef + select(fired, V(0.0f), g_v) + g_direct;
    d_theta = sg * coef;
  } else {
    g_h = sg * coef + g_v + g_direct;
    d_theta = sg * coef;
  }
  if (c.refractory_on()) {  // a held step is constant: nothing flows through it
    const Mask<V> held = is_held(h);
    g_h = select(held, V(0.0f), g_h);
    d_theta = select(held, V(0.0f), d_theta);
  }
  g_theta = g_theta - d_theta;
  return g_h;
}

// dL/dv0 from g_first = dL/dh[0]: through the decay, and with deferred_reset
// also through the reset that v0's own spike applies at step 0.
template <class C, class V>
SPIKEOPS_HOST_DEVICE V lif_initial_backward(const C& c, const NeuronParams<V>& p, V v0, V age0,
                                            V g_first, V& g_theta) {
  if (!c.deferred_reset) return p.alpha * g_first;
  return lif_step_backward(c, p, v0, V(0.0f), g_first, V(0.0f), age0, g_theta);
}

}  // namespace spikeops
