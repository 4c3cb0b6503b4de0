// The CPU kernels of Linear layers on bit-packed spikes, generic over an ISA
// policy I (lif_kernel.h's). Every output is a sum in a fixed order (the bias,
// then the active inputs in ascending order; for the weight gradient, rows in
// ascending order), computed lane by lane, so every ISA and every split over
// threads gives the same bits. Each ISA's translation unit includes this once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lif_kernel.h"
#include "spikeops/spike_linear.h"

namespace spikeops::cpu {
namespace {

// One word of spikes from 64 floats; `bad` gets the lanes that are neither 0 nor 1.
template <class P>
inline uint64_t pack_lanes(const float* x, uint64_t& bad) {
  using V = typename P::V;
  constexpr uint64_t kLanes = (uint64_t{1} << P::kWidth) - 1;
  uint64_t bits = 0;
  for (int64_t k = 0; k < kSpikeWordBits; k += P::kWidth) {
    const V v = P::load(x + k);
    const auto one = eq(v, V(1.0f));
    bits |= static_cast<uint64_t>(lane_bits(one)) << k;
    bad |= (~static_cast<uint64_t>(lane_bits(mask_or(one, eq(v, V(0.0f))))) & kLanes) << k;  // NaN too
  }
  return bits;
}

template <class I>
void spike_pack_range(const SpikePackArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t m = row_begin; m < row_end; ++m) {
    const float* x = a.x + m * a.n;
    uint64_t* words = a.words + m * a.n_words;
    uint64_t bad = 0;
    int64_t ones = 0;
    const int64_t full = a.n / kSpikeWordBits;
    for (int64_t w = 0; w < full; ++w) {
      words[w] = pack_lanes<I>(x + w * kSpikeWordBits, bad);
      ones += __builtin_popcountll(words[w]);
    }
    if (full < a.n_words) {  // the row's last, partial word
      alignas(64) float tail[kSpikeWordBits] = {};
      std::memcpy(tail, x + full * kSpikeWordBits, sizeof(float) * (a.n - full * kSpikeWordBits));
      words[full] = pack_lanes<I>(tail, bad);
      ones += __builtin_popcountll(words[full]);
    }
    a.counts[m] = bad ? -1 : ones;
  }
}

// The ISA argument picks the translation unit, whose flags give the popcount instruction.
template <class I>
void spike_count_range(const SpikeCountArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t m = row_begin; m < row_end; ++m) {
    const uint64_t* words = a.words + m * a.n_words;
    int64_t ones = 0;
    for (int64_t w = 0; w < a.n_words; ++w) ones += __builtin_popcountll(words[w]);
    a.counts[m] = ones;
  }
}

// A row's active inputs whose weights are fetched ahead of their use: they lie
// anywhere in the weight block, so the hardware prefetchers cannot guess them
// (measured: 14% faster at a 10% spike rate, n = 1024).
constexpr int64_t kAhead = 4;

inline void prefetch_block(const float* p) {
  for (int64_t line = 0; line < kOutBlock; line += 16) __builtin_prefetch(p + line);
}

template <class I>
void spike_linear_forward_range(const SpikeLinearArgs& a, int64_t item_begin, int64_t item_end) {
  using V = typename I::V;
  constexpr int64_t kVectors = kOutBlock / I::kWidth;
  const int64_t chunks = (a.rows + kSpikeRowChunk - 1) / kSpikeRowChunk;
  for (int64_t item = item_begin; item < item_end; ++item) {
    const int64_t block = item / chunks, m0 = (item % chunks) * kSpikeRowChunk;
    const float* weights = a.weight_blocks + block * a.n_in * kOutBlock;
    const int64_t o0 = block * kOutBlock, width = std::min(kOutBlock, a.n_out - o0);
    for (int64_t m = m0; m < std::min(m0 + kSpikeRowChunk, a.rows); ++m) {
      V acc[kVectors];
      for (int64_t r = 0; r < kVectors; ++r) acc[r] = a.bias ? I::load(a.bias + o0 + r * I::kWidth) : V(0.0f);
      const int64_t k_end = a.row_start[m + 1];
      for (int64_t k = a.row_start[m]; k < k_end; ++k) {
        if (k + kAhead < k_end) prefetch_block(weights + static_cast<int64_t>(a.active[k + kAhead]) * kOutBlock);
        const float* w = weights + static_cast<int64_t>(a.active[k]) * kOutBlock;
        for (int64_t r = 0; r < kVectors; ++r) acc[r] = acc[r] + I::load(w + r * I::kWidth);
      }
      float* y = a.y + m * a.n_out + o0;
      if (width == kOutBlock) {
        for (int64_t r = 0; r < kVectors; ++r) I::store(y + r * I::kWidth, acc[r]);
      } else {
        alignas(64) float row[kOutBlock];
        for (int64_t r = 0; r < kVectors; ++r) I::store(row + r * I::kWidth, acc[r]);
        std::memcpy(y, row, sizeof(float) * width);
      }
    }
  }
}

// dW[o][j] = sum over the rows m where input j is active of grad_out[m][o], rows
// ascending: per block of outputs, each input's sum is held in registers and stored once
// into the block's sums [n_in][kOutBlock], which are then written to [n_out, n_in] in
// groups of kWriteRows outputs: a few sequential write streams (one row each), where
// writing each input's kOutBlock sums straight to their rows would touch kOutBlock lines
// a row apart, often a power of two apart and so in one cache set.
constexpr int64_t kWriteRows = 8;

template <class I>
void spike_linear_grad_weight_range(const SpikeLinearArgs& a, int64_t block_begin, int64_t block_end) {
  using V = typename I::V;
  constexpr int64_t kVectors = kOutBlock / I::kWidth;
  std::vector<float> sums(a.n_in * kOutBlock);
  for (int64_t block = block_begin; block < block_end; ++block) {
    const int64_t o0 = block * kOutBlock, width = std::min(kOutBlock, a.n_out - o0);
    const float* grad = a.grad_out + block * a.rows * kOutBlock;
    for (int64_t j = 0; j < a.n_in; ++j) {
      V acc[kVectors];
      for (int64_t r = 0; r < kVectors; ++r) acc[r] = V(0.0f);
      const int64_t k_end = a.col_start[j + 1];
      for (int64_t k = a.col_start[j]; k < k_end; ++k) {
        const float* g = grad + static_cast<int64_t>(a.col_rows[k]) * kOutBlock;
        for (int64_t r = 0; r < kVectors; ++r) acc[r] = acc[r] + I::load(g + r * I::kWidth);
      }
      for (int64_t r = 0; r < kVectors; ++r) I::store(sums.data() + j * kOutBlock + r * I::kWidth, acc[r]);
    }
    for (int64_t o = 0; o < width; o += kWriteRows) {
      const int64_t count = std::min(kWriteRows, width - o);
      float* rows = a.grad_weight + (o0 + o) * a.n_in;
      for (int64_t j = 0; j < a.n_in; ++j)
        for (int64_t i = 0; i < count; ++i) rows[i * a.n_in + j] = sums[j * kOutBlock + o + i];
    }
  }
}

// Along one axis, the (tap, output) pairs through which each input coordinate reaches an
// output (coordinate = output * stride + tap * dilation - padding), taps ascending: tabulated
// once per call, so the kernels' inner loops do no division.
class AxisReach {
 public:
  AxisReach(int64_t size, int64_t taps, int64_t stride, int64_t pad, int64_t dil, int64_t out_size)
      : taps_(taps), count_(size, 0), tap_(size * taps), out_(size * taps) {
    for (int64_t o = 0; o < out_size; ++o)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t i = o * stride + t * dil - pad;
        if (i >= 0 && i < size) {
          tap_[i * taps + count_[i]] = static_cast<int32_t>(t);
          out_[i * taps + count_[i]++] = static_cast<int32_t>(o);
        }
      }
    // each coordinate's pairs in ascending tap order (outputs were visited ascending, taps descend with them)
    for (int64_t i = 0; i < size; ++i) {
      std::reverse(tap_.begin() + i * taps, tap_.begin() + i * taps + count_[i]);
      std::reverse(out_.begin() + i * taps, out_.begin() + i * taps + count_[i]);
    }
  }
  int32_t count(int64_t i) const { return count_[i]; }
  int32_t tap(int64_t i, int32_t k) const { return tap_[i * taps_ + k]; }
  int32_t out(int64_t i, int32_t k) const { return out_[i * taps_ + k]; }

 private:
  int64_t taps_;
  std::vector<int32_t> count_, tap_, out_;
};

// The outputs that input (iy, ix) reaches, as f(tap u * KW + v, output oy * OW + ox), taps ascending.
struct ConvReach {
  explicit ConvReach(const SpikeConvArgs& a)
      : y(a.H, a.KH, a.stride_h, a.pad_h, a.dil_h, a.OH), x(a.W, a.KW, a.stride_w, a.pad_w, a.dil_w, a.OW),
        KW(a.KW), OW(a.OW) {}
  template <class F>
  void operator()(int64_t iy, int64_t ix, F&& f) const {
    for (int32_t ky = 0; ky < y.count(iy); ++ky)
      for (int32_t kx = 0; kx < x.count(ix); ++kx)
        f(y.tap(iy, ky) * KW + x.tap(ix, kx), y.out(iy, ky) * OW + x.out(ix, kx));
  }
  AxisReach y, x;
  int64_t KW, OW;
};

template <class I>
inline void add_block(float* acc, const float* w) {
  for (int64_t r = 0; r < kOutBlock; r += I::kWidth) I::store(acc + r, I::load(acc + r) + I::load(w + r));
}

template <class I>
void spike_conv_forward_range(const SpikeConvArgs& a, int64_t item_begin, int64_t item_end) {
  const int64_t blocks = out_blocks(a.n_out), positions = a.OH * a.OW, plane = a.H * a.W, taps = a.KH * a.KW;
  const ConvReach reach(a);
  std::vector<float> acc(positions * kOutBlock);  // the image's outputs of one block, [OH*OW][kOutBlock]
  for (int64_t item = item_begin; item < item_end; ++item) {
    const int64_t image = item / blocks, block = item % blocks;
    const int64_t o0 = block * kOutBlock, width = std::min(kOutBlock, a.n_out - o0);
    for (int64_t p = 0; p < positions; ++p) {
      if (a.bias) std::memcpy(acc.data() + p * kOutBlock, a.bias + o0, sizeof(float) * kOutBlock);
      else std::fill(acc.data() + p * kOutBlock, acc.data() + (p + 1) * kOutBlock, 0.0f);
    }
    const float* weights = a.weight_blocks + block * a.C * taps * kOutBlock;
    for (int64_t k = a.row_start[image]; k < a.row_start[image + 1]; ++k) {
      const int64_t j = a.active[k], c = j / plane, iy = j % plane / a.W, ix = j % a.W;
      const float* w = weights + c * taps * kOutBlock;
      reach(iy, ix, [&](int64_t tap, int64_t p) { add_block<I>(acc.data() + p * kOutBlock, w + tap * kOutBlock); });
    }
    float* y = a.y + image * positions * a.n_out + o0;
    for (int64_t p = 0; p < positions; ++p) std::memcpy(y + p * a.n_out, acc.data() + p * kOutBlock, sizeof(float) * width);
  }
}

template <class I>
void spike_conv_grad_weight_range(const SpikeConvArgs& a, int64_t item_begin, int64_t item_end) {
  const int64_t positions = a.OH * a.OW, plane = a.H * a.W, taps = a.KH * a.KW;
  const int64_t chunks = (a.images + kConvImageChunk - 1) / kConvImageChunk, per_chunk = a.C * taps * kOutBlock;
  const ConvReach reach(a);
  for (int64_t item = item_begin; item < item_end; ++item) {
    const int64_t block = item / chunks, chunk = item % chunks;
    float* sums = a.partials + item * per_chunk;  // [C][taps][kOutBlock]
    std::fill(sums, sums + per_chunk, 0.0f);
    for (int64_t image = chunk * kConvImageChunk; image < std::min((chunk + 1) * kConvImageChunk, a.images); ++image) {
      const float* grad = a.grad_out + (block * a.images + image) * positions * kOutBlock;
      for (int64_t k = a.row_start[image]; k < a.row_start[image + 1]; ++k) {
        const int64_t j = a.active[k], c = j / plane, iy = j % plane / a.W, ix = j % a.W;
        float* channel = sums + c * taps * kOutBlock;
        reach(iy, ix, [&](int64_t tap, int64_t p) { add_block<I>(channel + tap * kOutBlock, grad + p * kOutBlock); });
      }
    }
  }
}

}  // namespace
}  // namespace spikeops::cpu
