// The scalar kernels: float32 and the 16-bit types (bitwise identical to the vector
// kernels), and float64.
#include "lif_kernel.h"

SPIKEOPS_DEFINE_LIF_KERNELS(scalar, ScalarIsa<float>, ScalarIsa<double>)

