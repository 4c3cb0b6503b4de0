// CUDA launch glue: picks the kernel instantiation for the dtype and enqueues
// it on torch's current stream of the tensors' device. In the emulated-CUDA
// test build the kernels run on the host: no device, no stream.
#if defined(SPIKEOPS_EMULATED_CUDA)
#include <c10/util/Exception.h>
#else
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

#include "elementwise_glue.h"
#include "op_library.h"
#include "lif_glue.h"
#include "spikeops/cuda.h"

namespace spikeops {
namespace {

#if defined(SPIKEOPS_EMULATED_CUDA)
struct DeviceGuard {
  explicit DeviceGuard(const at::Device&) {}
};
cudaStream_t current_stream() { return nullptr; }
#define SPIKEOPS_CUDA_CHECK(launch) \
  TORCH_CHECK((launch) == cudaSuccess, "an emulated CUDA kernel failed (see stderr)")
#else
using DeviceGuard = c10::cuda::CUDAGuard;
cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream(); }
#define SPIKEOPS_CUDA_CHECK(launch) C10_CUDA_CHECK(launch)
#endif

// Calls f with a null pointer of the kernel storage type of dtype. The LIF
// kernels take the three training dtypes; the element-wise neurons also float64.
template <bool kWithDouble = false, class Fn>
void dispatch_storage(at::ScalarType dtype, Fn&& f) {
  switch (dtype) {
    case at::kFloat: return f(static_cast<float*>(nullptr));
    case at::kHalf: return f(static_cast<__half*>(nullptr));
    case at::kBFloat16: return f(static_cast<__nv_bfloat16*>(nullptr));
    case at::kDouble:
      if constexpr (kWithDouble) return f(static_cast<double*>(nullptr));
      [[fallthrough]];
    default:
      TORCH_CHECK(false, "this spikeops CUDA kernel does not take ", dtype);
  }
}

}  // namespace

void run_forward_cuda(const ForwardTensors& t, const LifSettings& cfg, int64_t age_init) {
  const DeviceGuard guard(t.x.device());
  dispatch_storage(t.x.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    SPIKEOPS_CUDA_CHECK(cuda::lif_forward(forward_args<S, float>(t, cfg, age_init), current_stream()));
  });
}

void run_backward_cuda(const BackwardTensors& t, const LifSettings& cfg, int64_t age_init) {
  const DeviceGuard guard(t.saved_h.device());
  dispatch_storage(t.saved_h.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    SPIKEOPS_CUDA_CHECK(
        cuda::lif_backward(backward_args<S, float>(t, cfg, age_init), current_stream()));
  });
}

void run_soft_lif_cuda(const SoftLifTensors& t) {
  const DeviceGuard guard(t.x.device());
  dispatch_storage<true>(t.x.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    const auto stream = current_stream();
    SPIKEOPS_CUDA_CHECK(t.grad_out.defined() ? cuda::soft_lif_backward(soft_lif_args<S>(t), stream)
                                        : cuda::soft_lif_forward(soft_lif_args<S>(t), stream));
  });
}

void run_fs_forward_cuda(const FsTensors& t) {
  const DeviceGuard guard(t.x.device());
  dispatch_storage<true>(t.x.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    SPIKEOPS_CUDA_CHECK(cuda::fs_forward(fs_args<S, cuda::ComputeOf<S>>(t), current_stream()));
  });
}

void run_fs_backward_cuda(const FsTensors& t) {
  const DeviceGuard guard(t.x.device());
  dispatch_storage<true>(t.x.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    SPIKEOPS_CUDA_CHECK(cuda::fs_backward(fs_args<S, cuda::ComputeOf<S>>(t), current_stream()));
  });
}

void run_lif_fixed_cuda(const LifFixedArgs& a, const at::Tensor& like) {
  const DeviceGuard guard(like.device());
  SPIKEOPS_CUDA_CHECK(cuda::lif_fixed(a, current_stream()));
}

void run_cuda(const at::Tensor& like, const std::function<cudaError_t(cudaStream_t)>& launch) {
  const DeviceGuard guard(like.device());
  SPIKEOPS_CUDA_CHECK(launch(current_stream()));
}

void run_lif_substep_cuda(const LifSubstepArgs& a, const at::Tensor& like) {
  const DeviceGuard guard(like.device());
  SPIKEOPS_CUDA_CHECK(cuda::lif_substep(a, current_stream()));
}

}  // namespace spikeops
