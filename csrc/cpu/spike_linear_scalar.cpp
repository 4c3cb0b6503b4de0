// The scalar kernels of Linear layers on bit-packed spikes.
#include "spike_linear_kernel.h"

#include <array>
#include <cstring>
#include <vector>

namespace spikeops::cpu {

void spike_pack_scalar(const SpikePackArgs& a, int64_t b, int64_t e) { spike_pack_range<ScalarIsa<float>>(a, b, e); }
void spike_count_scalar(const SpikeCountArgs& a, int64_t b, int64_t e) {
  spike_count_range<ScalarIsa<float>>(a, b, e);
}
void spike_linear_forward_scalar(const SpikeLinearArgs& a, int64_t b, int64_t e) {
  spike_linear_forward_range<ScalarIsa<float>>(a, b, e);
}
void spike_linear_grad_weight_scalar(const SpikeLinearArgs& a, int64_t b, int64_t e) {
  spike_linear_grad_weight_range<ScalarIsa<float>>(a, b, e);
}
void spike_conv_forward_scalar(const SpikeConvArgs& a, int64_t b, int64_t e) {
  spike_conv_forward_range<ScalarIsa<float>>(a, b, e);
}
void spike_conv_grad_weight_scalar(const SpikeConvArgs& a, int64_t b, int64_t e) {
  spike_conv_grad_weight_range<ScalarIsa<float>>(a, b, e);
}

// Row m's active inputs from its words: the set bits, ascending (scalar on every ISA).
void spike_rows(const SpikeRowsArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t m = row_begin; m < row_end; ++m) {
    int32_t* out = a.active + a.row_start[m];
    const uint64_t* words = a.words + m * a.n_words;
    for (int64_t w = 0; w < a.n_words; ++w)
      for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1)
        *out++ = static_cast<int32_t>(w * kSpikeWordBits + __builtin_ctzll(bits));
  }
}

// Eight spikes per byte from a table of their floats (8 KiB, L1-resident): one 32-byte copy
// per byte of a word.
void spike_unpack(const SpikeUnpackArgs& a, int64_t row_begin, int64_t row_end) {
  static const auto table = [] {
    std::array<std::array<float, 8>, 256> t{};
    for (int byte = 0; byte < 256; ++byte)
      for (int b = 0; b < 8; ++b) t[byte][b] = static_cast<float>((byte >> b) & 1);
    return t;
  }();
  for (int64_t m = row_begin; m < row_end; ++m) {
    const uint64_t* words = a.words + m * a.n_words;
    float* x = a.x + m * a.n;
    const int64_t full_bytes = a.n / 8;
    for (int64_t k = 0; k < full_bytes; ++k)
      std::memcpy(x + 8 * k, table[(words[k / 8] >> (8 * (k % 8))) & 0xff].data(), sizeof(float) * 8);
    for (int64_t j = 8 * full_bytes; j < a.n; ++j)
      x[j] = static_cast<float>((words[j / kSpikeWordBits] >> (j % kSpikeWordBits)) & 1);
  }
}

// dW[o][c][tap] = the chunks' partial sums, chunks ascending, over items (output block, channel).
void spike_conv_reduce(const SpikeConvArgs& a, int64_t item_begin, int64_t item_end) {
  const int64_t taps = a.KH * a.KW, chunks = (a.images + kConvImageChunk - 1) / kConvImageChunk;
  std::vector<float> sums(taps * kOutBlock);
  for (int64_t item = item_begin; item < item_end; ++item) {
    const int64_t block = item / a.C, c = item % a.C;
    const int64_t o0 = block * kOutBlock, width = std::min(kOutBlock, a.n_out - o0);
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const float* part = a.partials + ((block * chunks + chunk) * a.C + c) * taps * kOutBlock;
      for (int64_t i = 0; i < taps * kOutBlock; ++i) sums[i] += part[i];
    }
    for (int64_t o = 0; o < width; ++o)
      for (int64_t tap = 0; tap < taps; ++tap) a.grad_weight[((o0 + o) * a.C + c) * taps + tap] = sums[tap * kOutBlock + o];
  }
}

void spike_column_counts(const SpikeColumnsArgs& a, int64_t word_begin, int64_t word_end) {
  int64_t* counts = a.col_start + 1;
  std::fill(counts + word_begin * kSpikeWordBits, counts + std::min(word_end * kSpikeWordBits, a.n_in), 0);
  for (int64_t m = 0; m < a.rows; ++m)
    for (int64_t w = word_begin; w < word_end; ++w)
      for (uint64_t bits = a.words[m * a.n_words + w]; bits != 0; bits &= bits - 1)
        ++counts[w * kSpikeWordBits + __builtin_ctzll(bits)];
}

void spike_column_rows(const SpikeColumnsArgs& a, int64_t word_begin, int64_t word_end) {
  std::vector<int64_t> next(a.col_start + word_begin * kSpikeWordBits,
                            a.col_start + std::min(word_end * kSpikeWordBits, a.n_in));
  for (int64_t m = 0; m < a.rows; ++m)
    for (int64_t w = word_begin; w < word_end; ++w)
      for (uint64_t bits = a.words[m * a.n_words + w]; bits != 0; bits &= bits - 1)
        a.col_rows[next[(w - word_begin) * kSpikeWordBits + __builtin_ctzll(bits)]++] = static_cast<int32_t>(m);
}

// Tiles of 16 inputs x kOutBlock outputs: the tile's reads (rows of the weight) and writes
// (its rows of the block) both stay in L1.
void spike_weight_blocks(const SpikeWeightArgs& a, int64_t block_begin, int64_t block_end) {
  constexpr int64_t kTile = 16;
  for (int64_t block = block_begin; block < block_end; ++block) {
    float* out = a.blocks + block * a.n_in * kOutBlock;
    const int64_t o0 = block * kOutBlock, width = std::min(kOutBlock, a.n_out - o0);
    for (int64_t j0 = 0; j0 < a.n_in; j0 += kTile) {
      const int64_t tile = std::min(kTile, a.n_in - j0);
      for (int64_t o = 0; o < kOutBlock; ++o) {
        if (o >= width) {
          for (int64_t jj = 0; jj < tile; ++jj) out[(j0 + jj) * kOutBlock + o] = 0.0f;
          continue;
        }
        const float* w = a.weight + (o0 + o) * a.n_in + j0;
        for (int64_t jj = 0; jj < tile; ++jj) out[(j0 + jj) * kOutBlock + o] = w[jj];
      }
    }
  }
}

void spike_grad_blocks(const SpikeGradArgs& a, int64_t block_begin, int64_t block_end) {
  for (int64_t block = block_begin; block < block_end; ++block) {
    const int64_t o0 = block * kOutBlock, width = std::min(kOutBlock, a.n_out - o0);
    float* out = a.blocks + block * a.rows * kOutBlock;
    for (int64_t m = 0; m < a.rows; ++m) {
      std::memcpy(out + m * kOutBlock, a.grad_out + m * a.n_out + o0, sizeof(float) * width);
      std::fill(out + m * kOutBlock + width, out + (m + 1) * kOutBlock, 0.0f);
    }
  }
}

}  // namespace spikeops::cpu
