// Host emulation of the CUDA execution model, for the test build only
// (spikeops._emulated_cuda; never part of the package). With it, the kernels of
// csrc/cuda/ compile with the host compiler, unchanged, and their launchers run
// them on the CPU over the grid they would launch on a GPU.
//
// Every CUDA thread of a block is a fiber of one host thread: __syncthreads()
// and the warp shuffles switch fibers until every live thread of the block (or
// lane of the warp) has arrived, so block-cooperative code runs in the order it
// was written, reductions included. Blocks are independent and run on a few
// host threads at once. __shared__ variables are host-thread-local statics:
// each host thread runs one block at a time.
//
// Half and bfloat16 are CUDA's own types and conversions (their host code
// rounds to nearest even, as the device does).
#pragma once

#if defined(__CUDACC__)
#error "cuda_emulation.h is for host compilers; nvcc builds the kernels for the GPU"
#endif

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <driver_types.h>
#include <vector_types.h>

#include <cstring>
#include <functional>
#include <type_traits>

#undef __shared__
#define __shared__ static thread_local
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

namespace spikeops::cuda::emulation {

constexpr unsigned kWarpSize = 32;

struct ThreadCoords {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};

// The coordinates of the CUDA thread running now on this host thread.
const ThreadCoords& coords();
// __syncthreads(): waits until every live thread of the block arrives.
void sync_block();
// Waits until every lane of the calling thread's warp arrives; only full warps
// (mask 0xffffffff, all 32 lanes live) are emulated.
void sync_warp(unsigned mask);
// The calling warp's 8-byte exchange slot of `lane`.
void* warp_slot(unsigned lane);
// Runs thread_body once per CUDA thread of every block of the grid.
cudaError_t run_grid(dim3 grid, dim3 block, const std::function<void()>& thread_body);
// The number of blocks of the latest launch (tests check which launch path ran).
unsigned long long last_launch_blocks();

}  // namespace spikeops::cuda::emulation

#define threadIdx (::spikeops::cuda::emulation::coords().thread_idx)
#define blockIdx (::spikeops::cuda::emulation::coords().block_idx)
#define blockDim (::spikeops::cuda::emulation::coords().block_dim)
#define gridDim (::spikeops::cuda::emulation::coords().grid_dim)

inline void __syncthreads() { ::spikeops::cuda::emulation::sync_block(); }

// Lane i gets var of lane i + delta of its width-lane segment, or its own var
// when that lane is outside the segment (CUDA's semantics).
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  namespace emu = ::spikeops::cuda::emulation;
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move at most 8 bytes");
  const unsigned lane = (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % emu::kWarpSize;
  std::memcpy(emu::warp_slot(lane), &var, sizeof(T));
  emu::sync_warp(mask);
  T out = var;
  if (lane % static_cast<unsigned>(width) + delta < static_cast<unsigned>(width)) {
    std::memcpy(&out, emu::warp_slot(lane + delta), sizeof(T));
  }
  emu::sync_warp(mask);  // every lane has read before a slot is written again
  return out;
}
