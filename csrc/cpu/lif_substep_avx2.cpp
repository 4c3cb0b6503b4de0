// The AVX2 kernel of the LIF with spike times inside the step (compiled with -mavx2 only in this translation unit).
#include "vec_avx2.h"
#include "lif_substep_kernel.h"

namespace spikeops::cpu {

void lif_substep_avx2(const LifSubstepArgs& a, int64_t b, int64_t e) { lif_substep_range<Avx2Isa>(a, b, e); }

}  // namespace spikeops::cpu
