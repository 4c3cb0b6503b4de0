// The AVX2 kernels of Linear layers on bit-packed spikes (compiled with -mavx2 only in this translation unit).
#include "vec_avx2.h"
#include "spike_linear_kernel.h"

namespace spikeops::cpu {

void spike_pack_avx2(const SpikePackArgs& a, int64_t b, int64_t e) { spike_pack_range<Avx2Isa>(a, b, e); }
void spike_count_avx2(const SpikeCountArgs& a, int64_t b, int64_t e) { spike_count_range<Avx2Isa>(a, b, e); }
void spike_linear_forward_avx2(const SpikeLinearArgs& a, int64_t b, int64_t e) {
  spike_linear_forward_range<Avx2Isa>(a, b, e);
}
void spike_linear_grad_weight_avx2(const SpikeLinearArgs& a, int64_t b, int64_t e) {
  spike_linear_grad_weight_range<Avx2Isa>(a, b, e);
}
void spike_conv_forward_avx2(const SpikeConvArgs& a, int64_t b, int64_t e) {
  spike_conv_forward_range<Avx2Isa>(a, b, e);
}
void spike_conv_grad_weight_avx2(const SpikeConvArgs& a, int64_t b, int64_t e) {
  spike_conv_grad_weight_range<Avx2Isa>(a, b, e);
}

}  // namespace spikeops::cpu
