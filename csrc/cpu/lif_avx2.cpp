// The AVX2 LIF kernels (compiled with -mavx2 -mf16c only in this translation unit).
#include "vec_avx2.h"
#include "lif_kernel.h"

namespace spikeops::cpu {

#define SPIKEOPS_DEFINE(S)                                                                   \
  void lif_forward_avx2(const LifForwardArgs<S, float>& a, int64_t b, int64_t e) {          \
    forward_range<Avx2Isa>(a, b, e);                                                          \
  }                                                                                          \
  void lif_backward_avx2(const LifBackwardArgs<S, float>& a, int64_t b, int64_t e) {        \
    backward_range<Avx2Isa>(a, b, e);                                                         \
  }
SPIKEOPS_DEFINE(float)
SPIKEOPS_DEFINE(Float16)
SPIKEOPS_DEFINE(BFloat16)
#undef SPIKEOPS_DEFINE

void lif_forward_avx2(const LifForwardArgs<double>& a, int64_t b, int64_t e) { forward_range<Avx2F64Isa>(a, b, e); }
void lif_backward_avx2(const LifBackwardArgs<double>& a, int64_t b, int64_t e) { backward_range<Avx2F64Isa>(a, b, e); }

}  // namespace spikeops::cpu
