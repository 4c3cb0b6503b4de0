// The float32 element-wise neuron loops (soft-LIF, FS forward) over an ISA
// policy (lif_kernel.h's): full vectors, then scalar lanes computing the same
// IEEE operations. Included once by each vector ISA's translation unit.
#pragma once

#include "lif_kernel.h"
#include "unrolled.h"
#include "spikeops/fs_neuron.h"
#include "spikeops/soft_lif.h"

namespace spikeops::cpu {
namespace {

// out = rate(x), or out = grad_out * rate'(x) when a.grad_out is set.
// Independent vectors per iteration: the rate is a chain of polynomials and divisions,
// the FS output a chain of K compare-subtract steps; chains in flight hide their latency.
// Measured on AVX-512 (bench/NOTES.md): soft-LIF 1.46x with 4, FS 1.08x with 2 (4: 1.03x).
constexpr int kSoftLifChains = 4, kFsChains = 2;

template <class I>
void soft_lif_range(const SoftLifArgs<float>& a, int64_t begin, int64_t end) {
  for_each_lane<UnrolledIsa<I, kSoftLifChains>, float>(end - begin, [&]<class P>(int64_t i) {
    using V = typename P::V;
    const int64_t k = begin + i;
    if (a.grad_out) {
      V slope;
      soft_lif_rate<V>(P::load(a.x + k), a.p, &slope);
      P::store(a.out + k, P::load(a.grad_out + k) * slope);
    } else {
      P::store(a.out + k, soft_lif_rate<V>(P::load(a.x + k), a.p, nullptr));
    }
  });
}

// out = FS output of x; a.spikes (optional) = spikes per element.
template <class I>
void fs_forward_range(const FsArgs<float, float>& a, int64_t begin, int64_t end) {
  for_each_lane<UnrolledIsa<I, kFsChains>, float>(end - begin, [&]<class P>(int64_t i) {
    using V = typename P::V;
    const int64_t k = begin + i;
    V spikes(0.0f);
    P::store(a.out + k, fs_output(P::load(a.x + k), a.K, a.h, a.d, a.threshold, &spikes));
    if (a.spikes) P::store_u8(a.spikes + k, spikes);
  });
}

// dL/dx for the kFsBlock-element blocks [block_begin, block_end), and with
// a.grad_coef each block's coefficient-gradient sums. Lanes are vectorised; each
// lane's coefficient contributions are then added in element order, so the sums
// carry the scalar kernel's bits (a - b == a + (0 - b) in IEEE arithmetic).
template <class I>
void fs_backward_range(const FsArgs<float, float>& a, int64_t block_begin, int64_t block_end) {
  const int K = a.K;
  for (int64_t b = block_begin; b < block_end; ++b) {
    float coef[3 * kFsMaxSteps] = {};
    const int64_t begin = b * kFsBlock, end = std::min(a.n, (b + 1) * kFsBlock);
    for_each_lane<I, float>(end - begin, [&]<class P>(int64_t i) {
      using V = typename P::V;
      const int64_t k = begin + i;
      const V x = P::load(a.x + k), g = P::load(a.grad_out + k);
      if (!a.grad_coef) {
        V* none = nullptr;
        P::store(a.out + k, fs_input_grad(x, g, K, a.h, a.d, a.threshold, a.sg, none, none, none));
        return;
      }
      V part[3 * kFsMaxSteps];
      for (int j = 0; j < 3 * K; ++j) part[j] = V(0.0f);
      P::store(a.out + k, fs_input_grad(x, g, K, a.h, a.d, a.threshold, a.sg, part, part + K, part + 2 * K));
      alignas(64) float lanes[P::kWidth];
      for (int j = 0; j < 3 * K; ++j) {
        P::store(lanes, part[j]);
        for (int64_t l = 0; l < P::kWidth; ++l) coef[j] += lanes[l];
      }
    });
    if (a.grad_coef) std::copy(coef, coef + 3 * K, a.grad_coef + b * 3 * K);
  }
}

}  // namespace
}  // namespace spikeops::cpu
