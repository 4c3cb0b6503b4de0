// The CUDA fixed-point LIF kernel: one thread per neuron walks all T steps with
// its state in registers; the math (exact integers) is include/spikeops/lif_fixed.h.
#include "lif_cuda.cuh"
#include "spikeops/lif_fixed.h"

namespace spikeops::cuda {
namespace {

__global__ void __launch_bounds__(kThreadsPerBlock) lif_fixed_kernel(LifFixedArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; n < a.N; n += stride) {
    int32_t u = a.u0 ? a.u0[n] : 0, v = a.v0 ? a.v0[n] : 0, r = a.r0 ? a.r0[n] : 0;
    const int32_t bias = lif_fixed_bias(a, n);
    for (int64_t t = 0, at = n; t < a.T; ++t, at += a.N) {
      a.spikes[at] = lif_fixed_step(a.a_in[at], bias, a.p, u, v, r) ? 1 : 0;
      if (a.u_seq) a.u_seq[at] = u;
      if (a.v_seq) a.v_seq[at] = v;
    }
    a.u_out[n] = u;
    a.v_out[n] = v;
    a.r_out[n] = r;
  }
}

}  // namespace

cudaError_t lif_fixed(const LifFixedArgs& a, cudaStream_t stream) {
  if (a.N == 0) return cudaSuccess;
  return launch(lif_fixed_kernel, strided_blocks(a.N), kThreadsPerBlock, stream, a);
}

}  // namespace spikeops::cuda
