// The AVX-512 fixed-point LIF kernel (compiled with -mavx512f only in this translation unit).
#include "vec_avx512.h"
#include "fixed_lif_kernel.h"

namespace spikeops::cpu {

void fixed_lif_avx512(const FixedLifArgs& a, int64_t b, int64_t e) { fixed_range<Avx512IntIsa>(a, b, e); }

}  // namespace spikeops::cpu
