// The AVX-512 kernels of the element-wise neurons (compiled with -mavx512f only in this translation unit).
#include "vec_avx512.h"
#include "elementwise_kernel.h"

namespace spikeops::cpu {

void soft_lif_avx512(const SoftLifArgs<float>& a, int64_t b, int64_t e) { soft_lif_range<Avx512Isa>(a, b, e); }
void fs_forward_avx512(const FsArgs<float, float>& a, int64_t b, int64_t e) { fs_forward_range<Avx512Isa>(a, b, e); }
void fs_backward_avx512(const FsArgs<float, float>& a, int64_t b, int64_t e) { fs_backward_range<Avx512Isa>(a, b, e); }

}  // namespace spikeops::cpu
