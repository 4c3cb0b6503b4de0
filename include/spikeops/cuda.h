// Launchers of the CUDA LIF kernels (csrc/cuda/). Each enqueues one kernel on
// `stream` and returns the launch status; none synchronises.
//
// [T, N] buffers are float32, float16 or bfloat16 (S); state, parameters and
// per-neuron gradients are float32. The saved membrane has the type S: 4 bytes
// per neuron-step for float32 and 2 for the 16-bit types (plus 2 for the spike
// ages the stdb surrogate needs).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <type_traits>

#include "spikeops/lif_fixed.h"
#include "spikeops/lif_substep.h"
#include "spikeops/fs_neuron.h"
#include "spikeops/lif_args.h"
#include "spikeops/soft_lif.h"
#include "spikeops/spike_linear.h"

namespace spikeops::cuda {

// Instantiated for S = float, __half and __nv_bfloat16.
template <class S>
cudaError_t lif_forward(const LifForwardArgs<S, float>& args, cudaStream_t stream);

template <class S>
cudaError_t lif_backward(const LifBackwardArgs<S, float>& args, cudaStream_t stream);

// Element-wise neurons, for S = float, double, __half and __nv_bfloat16,
// computed in ComputeOf<S> (double for double, else float).
template <class S>
using ComputeOf = std::conditional_t<std::is_same_v<S, double>, double, float>;

template <class S>
cudaError_t soft_lif_forward(const SoftLifArgs<S>& args, cudaStream_t stream);

template <class S>
cudaError_t soft_lif_backward(const SoftLifArgs<S>& args, cudaStream_t stream);

template <class S>
cudaError_t fs_forward(const FsArgs<S, ComputeOf<S>>& args, cudaStream_t stream);

// Writes the coefficient gradients' partial sums in the same [blocks, 3, K] layout as the CPU kernel.
template <class S>
cudaError_t fs_backward(const FsArgs<S, ComputeOf<S>>& args, cudaStream_t stream);

// The fixed-point LIF (docs/math.md §8): int32 in, uint8 spikes, int32 state; bit-identical to the CPU kernels.
cudaError_t lif_fixed(const LifFixedArgs& args, cudaStream_t stream);
cudaError_t lif_substep(const LifSubstepArgs& args, cudaStream_t stream);

// Linear layers on packed spikes (docs/math.md §10), float32. spike_pack writes each word's
// number of spikes, or -1 where its floats hold a value other than 0 and 1; spike_columns
// counts each column's spikes (counts not null) or writes their rows from col_start.
cudaError_t spike_pack(const float* x, int64_t rows, int64_t n, uint64_t* words, int32_t* word_counts,
                       cudaStream_t stream);
cudaError_t spike_unpack(const uint64_t* words, int64_t rows, int64_t n, float* x, cudaStream_t stream);
cudaError_t spike_rows(const uint64_t* words, int64_t rows, int64_t n_words, const int64_t* row_start,
                       int32_t* active, cudaStream_t stream);
cudaError_t spike_columns(const uint64_t* words, int64_t rows, int64_t n_words, int64_t n_in, int64_t* counts,
                          const int64_t* col_start, int32_t* col_rows, cudaStream_t stream);
cudaError_t spike_linear_forward(const SpikeLinearCudaArgs& args, cudaStream_t stream);
cudaError_t spike_linear_grad_weight(const SpikeLinearCudaArgs& args, cudaStream_t stream);

}  // namespace spikeops::cuda
