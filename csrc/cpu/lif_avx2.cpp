// The AVX2 LIF kernels (compiled with -mavx2 only in this translation unit).
#include "vec_avx2.h"
#include "lif_kernel.h"

namespace spikeops::cpu {

void lif_forward_avx2(const LifForwardArgs<float>& a, int64_t b, int64_t e) { forward_range<Avx2Isa>(a, b, e); }
void lif_backward_avx2(const LifBackwardArgs<float>& a, int64_t b, int64_t e) { backward_range<Avx2Isa>(a, b, e); }

}  // namespace spikeops::cpu
