// spikeops._emulated_cuda: the test-only extension that runs the CUDA kernels
// on the host. Importing it registers torch.ops.spikeops_emulated_cuda.* (the
// glue of csrc/torch/ compiled with SPIKEOPS_EMULATED_CUDA): the ops of
// torch.ops.spikeops, taking CPU tensors of the CUDA dtypes and running the
// CUDA kernels through the emulation. It also holds probe kernels that check the
// emulation itself and that the sanitizer build reports kernel bugs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "../cuda/lif_cuda.cuh"

namespace spikeops::cuda {
namespace {

constexpr int kProbeThreads = 128;

// Per lane: the values of __shfl_down_sync at deltas 1, 5 and 16 within
// `width`-lane segments, then a block sum by shuffles and shared memory.
__global__ void shuffle_probe_kernel(int32_t* out, int width) {
  const int tid = threadIdx.x;
  const int32_t own = 1000 * static_cast<int32_t>(blockIdx.x) + tid;
  out[4 * (blockIdx.x * blockDim.x + tid) + 0] = __shfl_down_sync(0xffffffffu, own, 1, width);
  out[4 * (blockIdx.x * blockDim.x + tid) + 1] = __shfl_down_sync(0xffffffffu, own, 5, width);
  out[4 * (blockIdx.x * blockDim.x + tid) + 2] = __shfl_down_sync(0xffffffffu, own, 16, width);
  __shared__ int32_t warp_sums[kProbeThreads / 32];
  int32_t v = own;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (tid % 32 == 0) warp_sums[tid / 32] = v;
  __syncthreads();
  int32_t total = 0;
  for (int w = 0; w < kProbeThreads / 32; ++w) total += warp_sums[w];
  __syncthreads();  // every thread has read before the next use of warp_sums
  out[4 * (blockIdx.x * blockDim.x + tid) + 3] = total;
}

// A deliberate out-of-bounds read: the last thread reads one past the end.
__global__ void out_of_bounds_kernel(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i + 1];
}

// A deliberate out-of-range float -> int conversion.
__global__ void bad_conversion_kernel(const float* in, int32_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<int32_t>(in[i] * 1e30f);
}

// __syncthreads reached by only half of the block: a deadlock the emulation reports.
__global__ void divergent_barrier_kernel(int32_t* out) {
  if (threadIdx.x % 2 == 0) __syncthreads();
  out[threadIdx.x] = 1;
}

void check(cudaError_t status) {
  if (status != cudaSuccess) throw std::runtime_error("emulated kernel failed (see stderr)");
}

std::vector<int32_t> shuffle_probe(unsigned blocks, int width) {
  std::vector<int32_t> out(4 * blocks * kProbeThreads, -1);
  check(launch(shuffle_probe_kernel, blocks, kProbeThreads, nullptr, out.data(), width));
  return out;
}

float out_of_bounds_read(int n) {
  std::vector<float> in(n, 1.0f), out(n);
  check(launch(out_of_bounds_kernel, (n + 63) / 64, 64, nullptr, static_cast<const float*>(in.data()), out.data(), n));
  return out[0];
}

int32_t out_of_range_conversion(int n) {
  std::vector<float> in(n, 3.0f);
  std::vector<int32_t> out(n);
  check(launch(bad_conversion_kernel, (n + 63) / 64, 64, nullptr, static_cast<const float*>(in.data()), out.data(),
               n));
  return out[0];
}

void divergent_barrier() {
  std::vector<int32_t> out(64);
  check(launch(divergent_barrier_kernel, 1, 64, nullptr, out.data()));
}

}  // namespace
}  // namespace spikeops::cuda

PYBIND11_MODULE(_emulated_cuda, m) {
  namespace c = spikeops::cuda;
  m.doc() = "Test-only: the CUDA kernels run on the host (torch.ops.spikeops_emulated_cuda.*) and emulation probes";
  m.attr("threads_per_block") = c::kThreadsPerBlock;
  m.attr("probe_threads") = c::kProbeThreads;
  m.def("last_launch_blocks", &spikeops::cuda::emulation::last_launch_blocks,
        "The number of blocks of the latest emulated kernel launch");
  m.def("shuffle_probe", &c::shuffle_probe, "Per thread: shfl_down at deltas 1, 5, 16 and the block sum");
  m.def("out_of_bounds_read", &c::out_of_bounds_read, "A kernel that reads one element past a buffer");
  m.def("out_of_range_conversion", &c::out_of_range_conversion, "A kernel converting 3e30f to int32");
  m.def("divergent_barrier", &c::divergent_barrier, "A kernel whose __syncthreads only half the block reaches");
}
