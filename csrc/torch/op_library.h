// What every op family's glue shares: the op library it registers into and
// which tensors go to the CUDA kernels.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>

// The op library: torch.ops.spikeops. The emulated-CUDA test build
// (SPIKEOPS_EMULATED_CUDA, spikeops._emulated_cuda) compiles the same glue into
// torch.ops.spikeops_emulated_cuda, whose ops take CPU tensors and run the CUDA
// kernels on the host. Both builds have CUDA kernels (SPIKEOPS_CUDA_KERNELS).
#if defined(SPIKEOPS_EMULATED_CUDA)
#define SPIKEOPS_OPS spikeops_emulated_cuda
#define SPIKEOPS_CUDA_KERNELS 1
#else
#define SPIKEOPS_OPS spikeops
#if defined(SPIKEOPS_WITH_CUDA)
#define SPIKEOPS_CUDA_KERNELS 1
#endif
#endif
// TORCH_LIBRARY* paste their namespace argument unexpanded; these expand it first.
#define SPIKEOPS_LIBRARY(ns, m) TORCH_LIBRARY(ns, m)
#define SPIKEOPS_LIBRARY_FRAGMENT(ns, m) TORCH_LIBRARY_FRAGMENT(ns, m)
#define SPIKEOPS_LIBRARY_IMPL(ns, key, m) TORCH_LIBRARY_IMPL(ns, key, m)

// Registers an op family's implementations (`register_impls(torch::Library&)`)
// for every dispatch key: one implementation checks, allocates and picks the
// kernel for CPU, CUDA (where built) and meta tensors, on which it is the fake
// kernel that FakeTensor and torch.compile run (checks and shapes, no kernel).
#if defined(SPIKEOPS_WITH_CUDA)
#define SPIKEOPS_IMPL_CUDA_KEY(register_impls) \
  SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CUDA, m) { register_impls(m); }
#else
#define SPIKEOPS_IMPL_CUDA_KEY(register_impls)
#endif
#define SPIKEOPS_IMPL_EVERY_KEY(register_impls)                          \
  SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CPU, m) { register_impls(m); }   \
  SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, Meta, m) { register_impls(m); }  \
  SPIKEOPS_IMPL_CUDA_KEY(register_impls)

#if defined(SPIKEOPS_CUDA_KERNELS)
#include <cuda_runtime_api.h>
#endif

namespace spikeops {

#if defined(SPIKEOPS_CUDA_KERNELS)
// Runs `launch` (one or more kernel launches) on torch's current stream of like's device and
// raises a torch error if it fails (csrc/torch/ops_cuda.cpp).
void run_cuda(const at::Tensor& like, const std::function<cudaError_t(cudaStream_t)>& launch);
#endif

// Whether t's data goes to the CUDA kernels: CUDA tensors, and every tensor in
// the emulated-CUDA build.
inline bool uses_cuda_kernels(const at::Tensor& t) {
#if defined(SPIKEOPS_EMULATED_CUDA)
  (void)t;
  return true;
#else
  return t.is_cuda();
#endif
}

// An optional tensor argument as a tensor, undefined where absent.
inline const at::Tensor& or_undefined(const std::optional<at::Tensor>& t) {
  static const at::Tensor undefined;
  return t.has_value() ? *t : undefined;
}

// The data of an optional tensor (undefined or empty: absent) as the kernel's pointer type.
template <class T>
T* data_or_null(const at::Tensor& t) {
  return (t.defined() && t.numel() > 0) ? static_cast<T*>(t.data_ptr()) : nullptr;
}

}  // namespace spikeops
