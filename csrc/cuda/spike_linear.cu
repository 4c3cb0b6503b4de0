// The CUDA kernels of Linear layers on bit-packed spikes (docs/math.md §10): packing,
// unpacking, the active inputs by row and by column, and the event-driven forward pass
// and weight gradient. One thread per output element, each sum in the order of the CPU
// kernels (bias, then active inputs ascending; rows ascending), so float32 results are
// the same bits as theirs.
#include "lif_cuda.cuh"
#include "spikeops/spike_linear.h"

namespace spikeops::cuda {
namespace {

__device__ __forceinline__ int popcount64(uint64_t v) {
#if defined(__CUDACC__)
  return __popcll(v);
#else
  return __builtin_popcountll(v);
#endif
}

__device__ __forceinline__ int lowest_bit(uint64_t v) {
#if defined(__CUDACC__)
  return __ffsll(static_cast<long long>(v)) - 1;
#else
  return __builtin_ctzll(v);
#endif
}

#define SPIKEOPS_GRID_STRIDE(i, count)                                                                      \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (count);             \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

__global__ void __launch_bounds__(kThreadsPerBlock)
    pack_kernel(const float* x, int64_t rows, int64_t n, int64_t n_words, uint64_t* words, int32_t* word_counts) {
  SPIKEOPS_GRID_STRIDE(item, rows * n_words) {
    const int64_t row = item / n_words, w = item % n_words;
    const float* in = x + row * n + w * kSpikeWordBits;
    const int64_t count = n - w * kSpikeWordBits < kSpikeWordBits ? n - w * kSpikeWordBits : kSpikeWordBits;
    uint64_t bits = 0;
    bool bad = false;
    for (int64_t b = 0; b < count; ++b) {
      const float v = in[b];
      bits |= static_cast<uint64_t>(v == 1.0f) << b;
      bad |= !(v == 1.0f || v == 0.0f);  // NaN too
    }
    words[item] = bits;
    word_counts[item] = bad ? -1 : popcount64(bits);
  }
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    unpack_kernel(const uint64_t* words, int64_t rows, int64_t n, int64_t n_words, float* x) {
  SPIKEOPS_GRID_STRIDE(i, rows * n) {
    const int64_t row = i / n, j = i % n;
    x[i] = static_cast<float>((words[row * n_words + j / kSpikeWordBits] >> (j % kSpikeWordBits)) & 1);
  }
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    rows_kernel(const uint64_t* words, int64_t rows, int64_t n_words, const int64_t* row_start, int32_t* active) {
  SPIKEOPS_GRID_STRIDE(m, rows) {
    int32_t* out = active + row_start[m];
    for (int64_t w = 0; w < n_words; ++w)
      for (uint64_t bits = words[m * n_words + w]; bits != 0; bits &= bits - 1)
        *out++ = static_cast<int32_t>(w * kSpikeWordBits + lowest_bit(bits));
  }
}

// Column j's rows, ascending: counted into counts[j] (counts not null) or written from col_start[j].
__global__ void __launch_bounds__(kThreadsPerBlock)
    columns_kernel(const uint64_t* words, int64_t rows, int64_t n_words, int64_t n_in, int64_t* counts,
                   const int64_t* col_start, int32_t* col_rows) {
  SPIKEOPS_GRID_STRIDE(j, n_in) {
    const uint64_t bit = uint64_t{1} << (j % kSpikeWordBits);
    const uint64_t* column = words + j / kSpikeWordBits;
    if (counts) {
      int64_t count = 0;
      for (int64_t m = 0; m < rows; ++m) count += (column[m * n_words] & bit) != 0;
      counts[j] = count;
    } else {
      int64_t at = col_start[j];
      for (int64_t m = 0; m < rows; ++m)
        if (column[m * n_words] & bit) col_rows[at++] = static_cast<int32_t>(m);
    }
  }
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    linear_forward_kernel(SpikeLinearCudaArgs a) {
  SPIKEOPS_GRID_STRIDE(i, a.rows * a.n_out) {
    const int64_t m = i / a.n_out, o = i % a.n_out;
    float acc = a.bias ? a.bias[o] : 0.0f;
    for (int64_t k = a.row_start[m]; k < a.row_start[m + 1]; ++k) acc += a.weight_t[a.active[k] * a.n_out + o];
    a.y[i] = acc;
  }
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    linear_grad_weight_kernel(SpikeLinearCudaArgs a) {
  SPIKEOPS_GRID_STRIDE(i, a.n_in * a.n_out) {
    const int64_t j = i / a.n_out, o = i % a.n_out;
    float acc = 0.0f;
    for (int64_t k = a.col_start[j]; k < a.col_start[j + 1]; ++k) acc += a.grad_out[a.col_rows[k] * a.n_out + o];
    a.grad_weight_t[i] = acc;
  }
}

#undef SPIKEOPS_GRID_STRIDE

}  // namespace

cudaError_t spike_pack(const float* x, int64_t rows, int64_t n, uint64_t* words, int32_t* word_counts,
                       cudaStream_t stream) {
  const int64_t n_words = (n + kSpikeWordBits - 1) / kSpikeWordBits;
  if (rows * n_words == 0) return cudaSuccess;
  return launch(pack_kernel, strided_blocks(rows * n_words), kThreadsPerBlock, stream, x, rows, n, n_words, words,
                word_counts);
}

cudaError_t spike_unpack(const uint64_t* words, int64_t rows, int64_t n, float* x, cudaStream_t stream) {
  if (rows * n == 0) return cudaSuccess;
  return launch(unpack_kernel, strided_blocks(rows * n), kThreadsPerBlock, stream, words, rows, n,
                (n + kSpikeWordBits - 1) / kSpikeWordBits, x);
}

cudaError_t spike_rows(const uint64_t* words, int64_t rows, int64_t n_words, const int64_t* row_start,
                       int32_t* active, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return launch(rows_kernel, strided_blocks(rows), kThreadsPerBlock, stream, words, rows, n_words, row_start, active);
}

cudaError_t spike_columns(const uint64_t* words, int64_t rows, int64_t n_words, int64_t n_in, int64_t* counts,
                          const int64_t* col_start, int32_t* col_rows, cudaStream_t stream) {
  if (n_in == 0) return cudaSuccess;
  return launch(columns_kernel, strided_blocks(n_in), kThreadsPerBlock, stream, words, rows, n_words, n_in, counts,
                col_start, col_rows);
}

cudaError_t spike_linear_forward(const SpikeLinearCudaArgs& a, cudaStream_t stream) {
  if (a.rows * a.n_out == 0) return cudaSuccess;
  return launch(linear_forward_kernel, strided_blocks(a.rows * a.n_out), kThreadsPerBlock, stream, a);
}

cudaError_t spike_linear_grad_weight(const SpikeLinearCudaArgs& a, cudaStream_t stream) {
  if (a.n_in * a.n_out == 0) return cudaSuccess;
  return launch(linear_grad_weight_kernel, strided_blocks(a.n_in * a.n_out), kThreadsPerBlock, stream, a);
}

}  // namespace spikeops::cuda
