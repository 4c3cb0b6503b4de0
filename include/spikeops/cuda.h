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

}  // namespace spikeops::cuda
