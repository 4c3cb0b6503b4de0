// CUDA kernels of the element-wise neurons: soft-LIF rate and FS neuron. The
// math is in include/spikeops/soft_lif.h and fs_neuron.h.
#include "lif_cuda.cuh"

namespace spikeops::cuda {
namespace {

template <class F, class S>
__device__ __forceinline__ F load_as(S v) {
  if constexpr (std::is_same_v<S, double>) return v;
  else return to_float(v);
}

template <class S, class F>
__device__ __forceinline__ S store_as(F v) {
  if constexpr (std::is_same_v<S, double>) return v;
  else return from_float<S>(v);
}

template <class S, bool kBackward>
__global__ void __launch_bounds__(kThreadsPerBlock) soft_lif_kernel(SoftLifArgs<S> a) {
  using F = ComputeOf<S>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += stride) {
    const F x = load_as<F>(a.x[i]);
    if constexpr (kBackward) {
      F slope;
      soft_lif_rate<F>(x, a.p, &slope);
      a.out[i] = store_as<S>(load_as<F>(a.grad_out[i]) * slope);
    } else {
      a.out[i] = store_as<S>(soft_lif_rate<F>(x, a.p, nullptr));
    }
  }
}

template <class S>
__global__ void __launch_bounds__(kThreadsPerBlock) fs_forward_kernel(FsArgs<S, ComputeOf<S>> a) {
  using F = ComputeOf<S>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < a.n; i += stride) {
    F spikes(0);
    a.out[i] = store_as<S>(fs_output(load_as<F>(a.x[i]), a.K, a.h, a.d, a.threshold, &spikes));
    if (a.spikes) a.spikes[i] = static_cast<uint8_t>(spikes);
  }
}

constexpr int kWarps = kThreadsPerBlock / 32;

// One thread block per kFsBlock elements; the coefficient gradients are summed
// per thread, then across warps in a fixed order (deterministic, no atomics).
template <class S>
__global__ void __launch_bounds__(kThreadsPerBlock) fs_backward_kernel(FsArgs<S, ComputeOf<S>> a) {
  using F = ComputeOf<S>;
  __shared__ F warp_sums[kWarps][3 * kFsMaxSteps];
  const int K = a.K;
  F coef[3 * kFsMaxSteps];
  const bool want_coef = a.grad_coef != nullptr;
  if (want_coef) {
    for (int j = 0; j < 3 * K; ++j) coef[j] = F(0);
  }
  F* gh = want_coef ? coef : nullptr;
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * kFsBlock;
  const int64_t end = begin + kFsBlock < a.n ? begin + kFsBlock : a.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreadsPerBlock) {
    const F g = load_as<F>(a.grad_out[i]);
    a.out[i] = store_as<S>(fs_input_grad(load_as<F>(a.x[i]), g, K, a.h, a.d, a.threshold, a.sg, gh,
                                         gh ? gh + K : nullptr, gh ? gh + 2 * K : nullptr));
  }
  if (!want_coef) return;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int j = 0; j < 3 * K; ++j) {
    F v = coef[j];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0) warp_sums[warp][j] = v;
  }
  __syncthreads();
  for (int j = threadIdx.x; j < 3 * K; j += kThreadsPerBlock) {
    F total(0);
    for (int w = 0; w < kWarps; ++w) total += warp_sums[w][j];
    a.grad_coef[blockIdx.x * 3 * K + j] = total;
  }
}

}  // namespace

template <class S>
cudaError_t soft_lif_forward(const SoftLifArgs<S>& args, cudaStream_t stream) {
  if (args.n == 0) return cudaSuccess;
  return launch(soft_lif_kernel<S, false>, strided_blocks(args.n), kThreadsPerBlock, stream, args);
}

template <class S>
cudaError_t soft_lif_backward(const SoftLifArgs<S>& args, cudaStream_t stream) {
  if (args.n == 0) return cudaSuccess;
  return launch(soft_lif_kernel<S, true>, strided_blocks(args.n), kThreadsPerBlock, stream, args);
}

template <class S>
cudaError_t fs_forward(const FsArgs<S, ComputeOf<S>>& args, cudaStream_t stream) {
  if (args.n == 0) return cudaSuccess;
  return launch(fs_forward_kernel<S>, strided_blocks(args.n), kThreadsPerBlock, stream, args);
}

template <class S>
cudaError_t fs_backward(const FsArgs<S, ComputeOf<S>>& args, cudaStream_t stream) {
  if (args.n == 0) return cudaSuccess;
  const int64_t blocks = (args.n + kFsBlock - 1) / kFsBlock;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  return launch(fs_backward_kernel<S>, static_cast<unsigned>(blocks), kThreadsPerBlock, stream, args);
}

#define SPIKEOPS_INSTANTIATE(S)                                                          \
  template cudaError_t soft_lif_forward<S>(const SoftLifArgs<S>&, cudaStream_t);         \
  template cudaError_t soft_lif_backward<S>(const SoftLifArgs<S>&, cudaStream_t);        \
  template cudaError_t fs_forward<S>(const FsArgs<S, ComputeOf<S>>&, cudaStream_t);      \
  template cudaError_t fs_backward<S>(const FsArgs<S, ComputeOf<S>>&, cudaStream_t);
SPIKEOPS_INSTANTIATE(float)
SPIKEOPS_INSTANTIATE(double)
SPIKEOPS_INSTANTIATE(__half)
SPIKEOPS_INSTANTIATE(__nv_bfloat16)
#undef SPIKEOPS_INSTANTIATE

}  // namespace spikeops::cuda
