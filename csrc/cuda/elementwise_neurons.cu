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
// FS backward: one thread block per kFsBlock elements, kFsPerThread per thread.
constexpr int kFsPerThread = static_cast<int>(kFsBlock / kThreadsPerBlock);
static_assert(kFsBlock % kThreadsPerBlock == 0, "a thread block's elements split evenly over its threads");

// Steps per span of the FS backward pass. A thread keeps a span's membranes and
// its sums of the span's coefficient terms (3 per step) in registers, and hands
// the sums to the block reduction through shared memory (3 * kSpan rows of
// kThreadsPerBlock values: 24 KiB for float32 and for float64; 8 float64 steps
// would need 48 KiB, past the static limit with the block's other arrays).
template <class F>
constexpr int kFsSpan = sizeof(F) == 8 ? 4 : 8;

// A thread's sums, over its elements, of one span's coefficient terms.
template <class F, int kSpan>
struct FsSpanSums {
  F h[kSpan], d[kSpan], t[kSpan];
  __device__ __forceinline__ void operator()(int j, F gh, F gd, F gt) {
    h[j] = h[j] - gh;
    d[j] = d[j] + gd;
    t[j] = t[j] - gt;
  }
};

// The FS backward pass, with (kCoef) each block's coefficient-gradient sums.
// The K steps run as spans of kSpan steps, the last span first. In a span a
// thread runs fs_input_grad_span for each of its elements in turn, from the
// membrane replayed up to the span by the same recurrence and the element's
// dL/dv left by the span above (kept in shared memory), so dL/dx has the CPU
// kernels' bits; the span's coefficient terms add up in registers over the
// thread's elements. (The span's steps are unrolled, the elements are not:
// the surrogate's switch is inlined once per step.) Then the block adds the
// span's 3 * steps per-thread sums: each warp takes rows of shared memory,
// lane l adds the row's values of threads l, l + 32, ..., and shuffles add the
// lanes (a fixed order: deterministic, no atomics). No local memory; per
// thread 1 + 2 * ceil(K / kSpan) barriers and 5 shuffles per row its warp
// takes (3K / kWarps rows), however many elements it has.
template <class S, bool kCoef>
__global__ void __launch_bounds__(kThreadsPerBlock) fs_backward_kernel(FsArgs<S, ComputeOf<S>> a) {
  using F = ComputeOf<S>;
  constexpr int kSpan = kFsSpan<F>;
  __shared__ F coef[3][kFsMaxSteps];  // h, d, T
  __shared__ F grad_v[kFsPerThread][kThreadsPerBlock];  // per element: dL/dv at the top of the span
  __shared__ F part[kCoef ? 3 * kSpan : 1][kThreadsPerBlock];
  const int K = a.K;
  for (int j = threadIdx.x; j < K; j += kThreadsPerBlock) {
    coef[0][j] = a.h[j];
    coef[1][j] = a.d[j];
    coef[2][j] = a.threshold[j];
  }
  for (int k = 0; k < kFsPerThread; ++k) grad_v[k][threadIdx.x] = F(0);
  __syncthreads();
  const F* h = coef[0];
  const F* d = coef[1];
  const F* threshold = coef[2];
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kFsBlock + threadIdx.x;
  for (int t0 = (K - 1) / kSpan * kSpan; t0 >= 0; t0 -= kSpan) {
    const int steps = K - t0 < kSpan ? K - t0 : kSpan;
    FsSpanSums<F, kSpan> sums;
#pragma unroll
    for (int j = 0; j < kSpan; ++j) sums.h[j] = sums.d[j] = sums.t[j] = F(0);
#pragma unroll 1
    for (int k = 0; k < kFsPerThread; ++k) {
      const int64_t i = first + k * kThreadsPerBlock;
      if (i >= a.n) break;
      // x and g are read again for every span (cache hits): fewer live registers.
      const F v = fs_membrane(load_as<F>(a.x[i]), t0, h, threshold);
      const F g = load_as<F>(a.grad_out[i]);
      F g_v;
      if constexpr (kCoef) {
        g_v = fs_input_grad_span<kSpan>(v, g, grad_v[k][threadIdx.x], t0, steps, h, d, threshold, a.sg, sums);
      } else {
        g_v = fs_input_grad_span<kSpan>(v, g, grad_v[k][threadIdx.x], t0, steps, h, d, threshold, a.sg, FsNoSink{});
      }
      if (t0 == 0) a.out[i] = store_as<S>(g_v);
      else grad_v[k][threadIdx.x] = g_v;
    }
    if constexpr (kCoef) {
#pragma unroll
      for (int j = 0; j < kSpan; ++j) {
        if (j < steps) {
          part[j][threadIdx.x] = sums.h[j];
          part[kSpan + j][threadIdx.x] = sums.d[j];
          part[2 * kSpan + j][threadIdx.x] = sums.t[j];
        }
      }
      __syncthreads();
      const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
      for (int r = warp; r < 3 * steps; r += kWarps) {
        const int c = r / steps, j = r % steps;  // coefficient (h, d, T), step t0 + j
        const F* row = part[c * kSpan + j];
        F total = row[lane];
#pragma unroll
        for (int w = 1; w < kWarps; ++w) total += row[lane + 32 * w];
        for (int offset = 16; offset > 0; offset /= 2) total += __shfl_down_sync(0xffffffffu, total, offset);
        if (lane == 0) a.grad_coef[(static_cast<int64_t>(blockIdx.x) * 3 + c) * K + t0 + j] = total;
      }
      __syncthreads();  // the rows are read before the next span writes them
    }
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
  const auto kernel = args.grad_coef ? fs_backward_kernel<S, true> : fs_backward_kernel<S, false>;
  return launch(kernel, static_cast<unsigned>(blocks), kThreadsPerBlock, stream, args);
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
