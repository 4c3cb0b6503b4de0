// The LIF neuron with spike times inside the step (docs/math.md §3), written once
// over a float value type V (float for the scalar CPU kernel and CUDA threads, a
// SIMD register for the AVX2/AVX-512 kernels). The membrane follows
// tau_rc dv/dt = J - v exactly for a current J held over each step; a crossing of
// v = 1 inside a step is located in time, the refractory period runs from there,
// and a step in which it ends integrates only its remainder. Over a constant
// current this fires at the LIF's analytic rate 1 / (tau_ref + tau_rc log(1 + 1/(J - 1))).
//
// Per step (r: refractory time left, counted down by dt every step):
//   r <- r - dt;  delta = clamp(dt - r, 0, dt)
//   v <- v - (J - v) expm1(-delta / tau_rc)
//   spike where v > 1, at t_spike = dt + tau_rc log1p((1 - v) / (J - 1)) into the step
//   v <- max(v, min_voltage); spiking neurons: v <- 0, r <- tau_ref + t_spike
#pragma once

#include <cstdint>

#include "spikeops/math.h"

namespace spikeops {

struct LifSubstepParams {
  float dt;           // step, seconds
  float tau_rc;       // membrane time constant, seconds
  float tau_ref;      // refractory period, seconds
  float min_voltage;  // floor of the membrane (0: no negative voltages)
  float spike_value;  // the output at a spike: amplitude / dt
  float expm1_step;   // expm1(-dt / tau_rc): a whole step's factor (lif_substep_params)
};

inline LifSubstepParams lif_substep_params(float dt, float tau_rc, float tau_ref, float min_voltage,
                                           float spike_value) {
  return {dt, tau_rc, tau_ref, min_voltage, spike_value, vexpm1(0.0f - dt / tau_rc)};
}

// One step for a vector of neurons with input current j. Returns the spike mask.
// Most steps integrate a whole step and spike nowhere: the transcendental
// functions run only for vectors with a lane that needs them, and a lane's
// result never depends on its neighbours.
template <class V>
SPIKEOPS_HOST_DEVICE Mask<V> lif_substep_step(V j, const LifSubstepParams& p, V& v, V& r) {
  const V dt(p.dt), one(1.0f);
  r = r - dt;
  const V delta = vmin(vmax(dt - r, V(0.0f)), dt);
  const Mask<V> partial = lt(delta, dt);  // refractory for some of the step
  V factor(p.expm1_step);
  if (any(partial)) factor = select(partial, vexpm1(V(0.0f) - delta / V(p.tau_rc)), factor);
  v = v - (j - v) * factor;
  const Mask<V> spike = gt(v, one);
  if (any(spike)) {
    // A crossing needs J > 1; a state that starts above 1 fires at the step's end.
    const V t_spike = select(gt(j, one), dt + V(p.tau_rc) * vlog1p((one - v) / (j - one)), dt);
    r = select(spike, V(p.tau_ref) + t_spike, r);
  }
  v = select(spike, V(0.0f), vmax(v, V(p.min_voltage)));
  return spike;
}

// Arguments of the fused kernels: [T, N] time-major float32 current and spikes
// (p.spike_value where a neuron spiked, else 0); per-neuron state in v_out and
// r_out, initialised from v0, r0 when given (else 0). Null pointers are absent.
struct LifSubstepArgs {
  int64_t T, N;
  const float* j;       // [T, N] input current
  const float* v0;      // [N], optional
  const float* r0;      // [N], optional: refractory time left, seconds
  float* spikes;        // [T, N]
  float *v_out, *r_out; // [N]
  LifSubstepParams p;
};

}  // namespace spikeops
