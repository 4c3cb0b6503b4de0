// Arguments of the fused multi-step LIF kernels: raw pointers into [T, N]
// time-major buffers (row t starts at t * N) plus the loop-invariant config.
// Optional buffers are null when absent. No torch types, so any framework can
// call the kernels.
#pragma once

#include <cstdint>

#include "spikeops/neuron.h"

namespace spikeops {

// A parameter that is one value for all neurons (per_neuron == nullptr) or one per neuron.
template <class S>
struct ParamRef {
  const S* per_neuron;
  S value;
};

template <class S>
struct LifForwardArgs {
  int64_t T, N;
  const S* x;                   // [T, N]
  S* spikes;                    // [T, N]
  S* saved_h;                   // [T, N] pre-spike membrane for the backward, optional
  uint16_t* saved_age;          // [T, N] spike ages (saturated at 65535) for stdb, optional
  int32_t* ages;                // [T, N] spike ages, optional
  const S* v0;                  // [N] initial membrane, optional (rest: cfg.v_reset)
  const int32_t* r0;            // [N] initial refractory count, optional (0)
  const int32_t* a0;            // [N] initial age state, optional (age_init)
  S* v_out;                     // [N] final membrane
  int32_t* r_out;               // [N] final refractory count, optional
  int32_t* a_out;               // [N] final age state, optional
  ParamRef<S> alpha, gamma, theta;
  int32_t age_init;
  LifConfig cfg;
  bool stream_outputs;          // write [T, N] outputs with non-temporal stores (large outputs)
};

template <class S>
struct LifBackwardArgs {
  int64_t T, N;
  const S* grad_spikes;         // [T, N]
  const S* grad_v;              // [N] gradient of the final membrane, optional
  const S* saved_h;             // [T, N]
  const uint16_t* saved_age;    // [T, N], required by stdb
  const S* x;                   // [T, N], required for grad_gamma
  const S* v0;                  // [N], optional (rest)
  const int32_t* a0;            // [N], optional (age_init)
  S* grad_x;                    // [T, N]
  S* grad_v0;                   // [N], optional
  S* grad_alpha;                // [N] per-neuron sums over time, optional
  S* grad_gamma;                // [N], optional
  S* grad_theta;                // [N], optional
  ParamRef<S> alpha, gamma, theta;
  int32_t age_init;
  LifConfig cfg;
  bool stream_outputs;
};

}  // namespace spikeops
