// The scalar fixed-point LIF kernel.
#include "fixed_lif_kernel.h"

namespace spikeops::cpu {

void fixed_lif_scalar(const FixedLifArgs& a, int64_t b, int64_t e) { fixed_range<ScalarIntIsa>(a, b, e); }

}  // namespace spikeops::cpu
