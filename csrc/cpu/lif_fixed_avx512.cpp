// The AVX-512 fixed-point LIF kernel (compiled with -mavx512f only in this translation unit).
#include "vec_avx512.h"
#include "lif_fixed_kernel.h"

namespace spikeops::cpu {

void lif_fixed_avx512(const LifFixedArgs& a, int64_t b, int64_t e) { lif_fixed_range<Avx512IntIsa>(a, b, e); }

}  // namespace spikeops::cpu
