// The scalar kernels: float32 and the 16-bit types (bitwise identical to the vector
// kernels), and float64.
#include "lif_kernel.h"

namespace spikeops::cpu {

#define SPIKEOPS_DEFINE(S, F)                                                                 \
  void lif_forward_scalar(const LifForwardArgs<S, F>& a, int64_t b, int64_t e) {              \
    forward_range<ScalarIsa<F>>(a, b, e);                                                     \
  }                                                                                           \
  void lif_backward_scalar(const LifBackwardArgs<S, F>& a, int64_t b, int64_t e) {            \
    backward_range<ScalarIsa<F>>(a, b, e);                                                    \
  }
SPIKEOPS_DEFINE(float, float)
SPIKEOPS_DEFINE(double, double)
SPIKEOPS_DEFINE(Float16, float)
SPIKEOPS_DEFINE(BFloat16, float)
#undef SPIKEOPS_DEFINE

}  // namespace spikeops::cpu
