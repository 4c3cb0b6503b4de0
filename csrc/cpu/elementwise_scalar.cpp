// The scalar CPU kernels of the element-wise neurons, soft-LIF rate and FS
// neuron (float32 and float64). The math is in include/spikeops/soft_lif.h and
// fs_neuron.h; these loops only walk the elements.
#include <algorithm>

#include "spikeops/cpu.h"

namespace spikeops::cpu {

template <class S>
void soft_lif_forward(const SoftLifArgs<S>& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) a.out[i] = soft_lif_rate<S>(a.x[i], a.p, nullptr);
}

template <class S>
void soft_lif_backward(const SoftLifArgs<S>& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    S slope;
    soft_lif_rate<S>(a.x[i], a.p, &slope);
    a.out[i] = a.grad_out[i] * slope;
  }
}

template <class S>
void fs_forward(const FsArgs<S, S>& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    S spikes(0);
    a.out[i] = fs_output(a.x[i], a.K, a.h, a.d, a.threshold, &spikes);
    if (a.spikes) a.spikes[i] = static_cast<uint8_t>(spikes);
  }
}

template <class S>
void fs_backward(const FsArgs<S, S>& a, int64_t block_begin, int64_t block_end) {
  const int K = a.K;
  for (int64_t b = block_begin; b < block_end; ++b) {
    S coef[3 * kFsMaxSteps] = {};
    S* gh = a.grad_coef ? coef : nullptr;
    const int64_t end = std::min(a.n, (b + 1) * kFsBlock);
    for (int64_t i = b * kFsBlock; i < end; ++i) {
      a.out[i] = fs_input_grad<S>(a.x[i], a.grad_out[i], K, a.h, a.d, a.threshold, a.sg, gh, gh ? gh + K : nullptr,
                                  gh ? gh + 2 * K : nullptr);
    }
    if (a.grad_coef) std::copy(coef, coef + 3 * K, a.grad_coef + b * 3 * K);
  }
}

template void soft_lif_forward(const SoftLifArgs<float>&, int64_t, int64_t);
template void soft_lif_forward(const SoftLifArgs<double>&, int64_t, int64_t);
template void soft_lif_backward(const SoftLifArgs<float>&, int64_t, int64_t);
template void soft_lif_backward(const SoftLifArgs<double>&, int64_t, int64_t);
template void fs_forward(const FsArgs<float, float>&, int64_t, int64_t);
template void fs_forward(const FsArgs<double, double>&, int64_t, int64_t);
template void fs_backward(const FsArgs<float, float>&, int64_t, int64_t);
template void fs_backward(const FsArgs<double, double>&, int64_t, int64_t);

}  // namespace spikeops::cpu
