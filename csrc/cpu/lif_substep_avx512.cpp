// The AVX-512 kernel of the LIF with spike times inside the step (compiled with -mavx512f only in
// this translation unit).
#include "vec_avx512.h"
#include "lif_substep_kernel.h"

namespace spikeops::cpu {

void lif_substep_avx512(const LifSubstepArgs& a, int64_t b, int64_t e) { lif_substep_range<Avx512Isa>(a, b, e); }

}  // namespace spikeops::cpu
