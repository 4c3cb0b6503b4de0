// The AVX-512 LIF kernels (compiled with -mavx512f only in this translation unit).
#include "vec_avx512.h"
#include "lif_kernel.h"

namespace spikeops::cpu {

#define SPIKEOPS_DEFINE(S)                                                                   \
  void lif_forward_avx512(const LifForwardArgs<S, float>& a, int64_t b, int64_t e) {          \
    forward_range<Avx512Isa>(a, b, e);                                                          \
  }                                                                                          \
  void lif_backward_avx512(const LifBackwardArgs<S, float>& a, int64_t b, int64_t e) {        \
    backward_range<Avx512Isa>(a, b, e);                                                         \
  }
SPIKEOPS_DEFINE(float)
SPIKEOPS_DEFINE(Float16)
SPIKEOPS_DEFINE(BFloat16)
#undef SPIKEOPS_DEFINE

void lif_forward_avx512(const LifForwardArgs<double>& a, int64_t b, int64_t e) { forward_range<Avx512F64Isa>(a, b, e); }
void lif_backward_avx512(const LifBackwardArgs<double>& a, int64_t b, int64_t e) { backward_range<Avx512F64Isa>(a, b, e); }

}  // namespace spikeops::cpu
