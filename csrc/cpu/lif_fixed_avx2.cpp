// The AVX2 fixed-point LIF kernel (compiled with -mavx2 only in this translation unit).
#include "vec_avx2.h"
#include "lif_fixed_kernel.h"

namespace spikeops::cpu {

void lif_fixed_avx2(const LifFixedArgs& a, int64_t b, int64_t e) { lif_fixed_range<Avx2IntIsa>(a, b, e); }

}  // namespace spikeops::cpu
