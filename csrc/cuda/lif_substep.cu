// The CUDA kernel of the LIF with spike times inside the step: one thread per
// neuron walks all T steps with its state in registers; the math is
// include/spikeops/lif_substep.h.
#include "lif_cuda.cuh"
#include "spikeops/lif_substep.h"

namespace spikeops::cuda {
namespace {

__global__ void __launch_bounds__(kThreadsPerBlock) lif_substep_kernel(LifSubstepArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; n < a.N; n += stride) {
    float v = a.v0 ? a.v0[n] : 0.0f, r = a.r0 ? a.r0[n] : 0.0f;
    for (int64_t t = 0, at = n; t < a.T; ++t, at += a.N)
      a.spikes[at] = lif_substep_step(a.j[at], a.p, v, r) ? a.p.spike_value : 0.0f;
    a.v_out[n] = v;
    a.r_out[n] = r;
  }
}

}  // namespace

cudaError_t lif_substep(const LifSubstepArgs& a, cudaStream_t stream) {
  if (a.N == 0) return cudaSuccess;
  return launch(lif_substep_kernel, strided_blocks(a.N), kThreadsPerBlock, stream, a);
}

}  // namespace spikeops::cuda
