// The scalar fixed-point LIF kernel.
#include "lif_fixed_kernel.h"

namespace spikeops::cpu {

void lif_fixed_scalar(const LifFixedArgs& a, int64_t b, int64_t e) { lif_fixed_range<ScalarIntIsa>(a, b, e); }

}  // namespace spikeops::cpu
