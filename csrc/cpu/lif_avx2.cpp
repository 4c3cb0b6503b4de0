// The AVX2 LIF kernels (compiled with -mavx2 -mf16c only in this translation unit).
#include "vec_avx2.h"
#include "lif_kernel.h"

SPIKEOPS_DEFINE_LIF_KERNELS(avx2, Avx2Isa, Avx2F64Isa)
