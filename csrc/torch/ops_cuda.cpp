// CUDA launch glue: picks the kernel instantiation for the dtype and enqueues
// it on torch's current stream of the tensors' device.
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "lif_glue.h"
#include "spikeops/cuda.h"

namespace spikeops {
namespace {

// Calls f with a null pointer of the kernel storage type of dtype.
template <class Fn>
void dispatch_storage(at::ScalarType dtype, Fn&& f) {
  switch (dtype) {
    case at::kFloat: return f(static_cast<float*>(nullptr));
    case at::kHalf: return f(static_cast<__half*>(nullptr));
    case at::kBFloat16: return f(static_cast<__nv_bfloat16*>(nullptr));
    default: TORCH_CHECK(false, "spikeops CUDA kernels take float32, float16 or bfloat16, got ", dtype);
  }
}

}  // namespace

void run_forward_cuda(const ForwardTensors& t, const LifConfig& cfg, int64_t age_init) {
  const c10::cuda::CUDAGuard guard(t.x.device());
  dispatch_storage(t.x.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    C10_CUDA_CHECK(cuda::lif_forward(forward_args<S, float>(t, cfg, age_init), c10::cuda::getCurrentCUDAStream()));
  });
}

void run_backward_cuda(const BackwardTensors& t, const LifConfig& cfg, int64_t age_init) {
  const c10::cuda::CUDAGuard guard(t.saved_h.device());
  dispatch_storage(t.saved_h.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    C10_CUDA_CHECK(
        cuda::lif_backward(backward_args<S, float>(t, cfg, age_init), c10::cuda::getCurrentCUDAStream()));
  });
}

}  // namespace spikeops
