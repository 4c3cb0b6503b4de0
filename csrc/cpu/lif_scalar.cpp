// The scalar kernels: float32 (bitwise identical to the vector kernels) and float64.
#include "lif_kernel.h"

namespace spikeops::cpu {

void lif_forward_scalar(const LifForwardArgs<float>& a, int64_t b, int64_t e) {
  forward_range<ScalarIsa<float>>(a, b, e);
}
void lif_forward_scalar(const LifForwardArgs<double>& a, int64_t b, int64_t e) {
  forward_range<ScalarIsa<double>>(a, b, e);
}
void lif_backward_scalar(const LifBackwardArgs<float>& a, int64_t b, int64_t e) {
  backward_range<ScalarIsa<float>>(a, b, e);
}
void lif_backward_scalar(const LifBackwardArgs<double>& a, int64_t b, int64_t e) {
  backward_range<ScalarIsa<double>>(a, b, e);
}

}  // namespace spikeops::cpu
