// Arguments of the fused multi-step LIF kernels: raw pointers into [T, N]
// time-major buffers (row t starts at t * N) plus the loop-invariant config.
// Optional buffers are null when absent. No torch types, so any framework can
// call the kernels.
//
// S is the element type of the [T, N] buffers; F that of the per-neuron state,
// parameters and their gradients. The CPU kernels use S = F (float or double);
// the CUDA kernels store float16/bfloat16 buffers with float32 state (F = float).
#pragma once

#include <cstdint>

#include "spikeops/neuron.h"

namespace spikeops {

// A parameter: `value` for all neurons when data is null; else data[n * stride],
// stride 1 for one value per neuron, 0 for a single value that lives in device
// memory (read by the kernel, so the host never waits on the device for it).
template <class F>
struct ParamRef {
  const F* data;
  int64_t stride;
  F value;
};

template <class S, class F = S>
struct LifForwardArgs {
  int64_t T, N;
  const S* x;                   // [T, N]
  S* spikes;                    // [T, N]
  S* saved_h;                   // [T, N] pre-spike membrane for the backward, optional
  uint16_t* saved_age;          // [T, N] spike ages (saturated at 65535) for stdb, optional
  int32_t* ages;                // [T, N] spike ages, optional
  // The spikes also as bits, optional: rows of spike_row neurons (N a multiple of it), each
  // ceil(spike_row / 64) words laid out as include/spikeops/spike_linear.h describes. Zeroed by
  // the caller: words a range of neurons shares with the next are OR-ed in.
  uint64_t* spike_words;
  int64_t spike_row;
  const F* v0;                  // [N] initial membrane, optional (rest: cfg.v_reset)
  const int32_t* r0;            // [N] initial refractory count, optional (0)
  const int32_t* a0;            // [N] initial age state, optional (age_init)
  F* v_out;                     // [N] final membrane
  int32_t* r_out;               // [N] final refractory count, optional
  int32_t* a_out;               // [N] final age state, optional
  ParamRef<F> alpha, gamma, theta;
  int32_t age_init;
  LifConfigOf<F> cfg;  // constants in F
  bool stream_outputs;          // write [T, N] outputs with non-temporal stores (large outputs)
};

template <class S, class F = S>
struct LifBackwardArgs {
  int64_t T, N;
  const S* grad_spikes;         // [T, N]
  const F* grad_v;              // [N] gradient of the final membrane, optional
  const S* saved_h;             // [T, N]
  const uint16_t* saved_age;    // [T, N], required by stdb
  const S* x;                   // [T, N], required for grad_gamma
  const F* v0;                  // [N], optional (rest)
  const int32_t* a0;            // [N], optional (age_init)
  S* grad_x;                    // [T, N]
  F* grad_v0;                   // [N], optional
  F* grad_alpha;                // [N] per-neuron sums over time, optional
  F* grad_gamma;                // [N], optional
  F* grad_theta;                // [N], optional
  ParamRef<F> alpha, gamma, theta;
  int32_t age_init;
  LifConfigOf<F> cfg;  // constants in F
  bool stream_outputs;
};

// A float32 saved membrane kept in 16 bits (saved_h_bits, include/spikeops/half.h), over
// rows [begin, end) of [T, N]: what functional.lif(..., saved_membrane=...) keeps.
struct SavedH16Args {
  const float* h;      // [T, N]
  const float* theta;  // [N]
  int64_t N;
  uint16_t* out;       // [T, N]: float16 or bfloat16 bits
  bool bfloat16;
};

}  // namespace spikeops
