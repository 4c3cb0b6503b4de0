// The AVX2 fixed-point LIF kernel (compiled with -mavx2 only in this translation unit).
#include "vec_avx2.h"
#include "fixed_lif_kernel.h"

namespace spikeops::cpu {

void fixed_lif_avx2(const FixedLifArgs& a, int64_t b, int64_t e) { fixed_range<Avx2IntIsa>(a, b, e); }

}  // namespace spikeops::cpu
