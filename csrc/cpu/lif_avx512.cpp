// The AVX-512 LIF kernels (compiled with -mavx512f only in this translation unit).
#include "vec_avx512.h"
#include "lif_kernel.h"

SPIKEOPS_DEFINE_LIF_KERNELS(avx512, Avx512Isa, Avx512F64Isa)
