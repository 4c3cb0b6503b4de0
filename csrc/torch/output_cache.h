// Large CPU outputs of the ops come from a cache of blocks that spikeops owns.
//
// A fresh tensor of tens of MiB is mapped anew by the C library on every call,
// and the kernel that first writes it page-faults on every page (and the OS zeroes
// it): for the LIF forward that is over half the time of the call. Blocks here are
// kept (huge-page backed, already faulted in) when their tensor dies and handed
// to the next output of the same rounded size, the way PyTorch's CUDA caching
// allocator recycles device memory. Only these outputs use it; torch's allocator
// and its settings are untouched.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace spikeops {

// An uninitialised tensor like at::empty_symint(sizes, opts); CPU outputs of at
// least kMinCachedBytes come from the cache.
at::Tensor empty_output(c10::SymIntArrayRef sizes, const at::TensorOptions& opts);

constexpr int64_t kMinCachedBytes = 4 << 20;

// Bytes held in free blocks, and the limit beyond which the oldest are returned to
// the system (SPIKEOPS_CPU_CACHE_MB, default 1024; 0 turns the cache off).
int64_t output_cache_free_bytes();
int64_t output_cache_limit_bytes();
// Returns every free block to the system (spikeops.empty_cache()).
void output_cache_release();

}  // namespace spikeops
