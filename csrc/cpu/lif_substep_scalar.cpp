// The scalar kernel of the LIF with spike times inside the step.
#include "lif_substep_kernel.h"

namespace spikeops::cpu {

void lif_substep_scalar(const LifSubstepArgs& a, int64_t b, int64_t e) { lif_substep_range<ScalarIsa<float>>(a, b, e); }

}  // namespace spikeops::cpu
