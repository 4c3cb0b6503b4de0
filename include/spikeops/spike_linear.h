// Linear layers on bit-packed spikes (docs/math.md §10): the packed word layout and
// the arguments of the CPU kernels that pack spikes and run the event-driven
// forward pass and weight gradient.
#pragma once

#include <cstdint>

namespace spikeops {

// A row of n spikes is packed into ceil(n / 64) words: bit b of word w is neuron 64 w + b;
// bits past n are 0.
constexpr int64_t kSpikeWordBits = 64;
// Output neurons per weight block. The event-driven kernels read the weights as blocks
// [n_in][kOutBlock] (a layout the glue makes from nn.Linear's [n_out, n_in]): one block
// stays in cache while rows stream past, and an active input's 64 weights are one
// contiguous run of 256 bytes.
constexpr int64_t kOutBlock = 64;
// Rows handled per task of the forward pass (each task holds one weight block).
constexpr int64_t kSpikeRowChunk = 256;

struct SpikePackArgs {
  const float* x;   // [rows, n]
  int64_t n = 0, n_words = 0;
  uint64_t* words;  // [rows, n_words]
  int64_t* counts;  // [rows] ones per row; -1 for a row holding a value that is neither 0 nor 1
};

// Each row's spikes, counted from its words (words a neuron kernel wrote), rows [begin, end).
struct SpikeCountArgs {
  const uint64_t* words;  // [rows, n_words]
  int64_t n_words = 0;
  int64_t* counts;        // [rows]
};

// Words back to 0/1 floats, rows [begin, end).
struct SpikeUnpackArgs {
  const uint64_t* words;  // [rows, n_words]
  int64_t n = 0, n_words = 0;
  float* x;               // [rows, n]
};

// The active inputs of every row, CSR: row m's are active[row_start[m] .. row_start[m + 1]),
// ascending.
struct SpikeRowsArgs {
  const uint64_t* words;
  int64_t n_words = 0;
  const int64_t* row_start;  // [rows + 1]
  int32_t* active;           // [row_start[rows]]
};

// The active inputs by column, CSC: input j is active in rows
// col_rows[col_start[j] .. col_start[j + 1]), ascending. Built over ranges of words
// (64 inputs each): counts, then (after the caller's prefix sum) the rows.
struct SpikeColumnsArgs {
  const uint64_t* words;
  int64_t rows = 0, n_words = 0, n_in = 0;
  int64_t* col_start;  // [n_in + 1]; the counting pass writes the counts to col_start[1 ..]
  int32_t* col_rows;   // [col_start[n_in]]
};

// [n_out, n_in] weights to blocks [blocks][n_in][kOutBlock], columns past n_out 0.
struct SpikeWeightArgs {
  const float* weight;
  int64_t n_out = 0, n_in = 0;
  float* blocks;
};

// The output gradient [rows, n_out] as blocks [blocks][rows][kOutBlock], zero padded.
struct SpikeGradArgs {
  const float* grad_out;
  int64_t rows = 0, n_out = 0;
  float* blocks;
};

struct SpikeLinearArgs {
  int64_t rows = 0, n_in = 0, n_out = 0;
  // forward
  const int64_t* row_start;
  const int32_t* active;
  const float* weight_blocks;  // SpikeWeightArgs' blocks
  const float* bias;           // [blocks * kOutBlock] (zero padded) or null
  float* y;                    // [rows, n_out]
  // weight gradient
  const int64_t* col_start;
  const int32_t* col_rows;
  // [blocks][rows][kOutBlock], zero padded past n_out: each block's rows contiguous (rows of
  // [rows, n_out] are often a power of two apart, and then share a few cache sets).
  const float* grad_out;
  float* grad_weight;          // [n_out, n_in]
};

// A 2-D convolution (one group) on packed spikes, one row of C*H*W inputs per image (docs/math.md
// §10.1). Every active input (c, iy, ix) adds its weights W[:, c, u, v] to each output (oy, ox)
// it reaches: iy = oy*stride + u*dilation - padding (and likewise along x). The forward pass
// works over items (image, output block): each output starts at the bias and adds the image's
// active inputs in ascending order. The weight gradient works over items (output block, chunk
// of kConvImageChunk images): each adds, images and inputs ascending, the output gradient of
// every output an active input reached to its partial sums of dW[o, c, u, v]; a second pass
// adds the chunks' partial sums in ascending order.
constexpr int64_t kConvImageChunk = 16;

struct SpikeConvArgs {
  int64_t images = 0, C = 0, H = 0, W = 0, n_out = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  const int64_t* row_start;    // [images + 1]
  const int32_t* active;       // spike_rows' active inputs of every image
  // forward
  const float* weight_blocks;  // [blocks][C][KH][KW][kOutBlock]: SpikeWeightArgs' blocks of W as [n_out, C*KH*KW]
  const float* bias;           // [blocks * kOutBlock] (zero padded) or null
  float* y;                    // [images][OH][OW][n_out] (channels last)
  // weight gradient
  const float* grad_out;       // [blocks][images][OH][OW][kOutBlock]: SpikeGradArgs' blocks, zero padded
  float* partials;             // [blocks][chunks][C][KH][KW][kOutBlock]
  float* grad_weight;          // [n_out, C, KH, KW]
};

// The CUDA kernels' Linear on spikes: one thread per output element (docs/math.md §10 order).
struct SpikeLinearCudaArgs {
  int64_t rows = 0, n_in = 0, n_out = 0;
  // forward: y[m][o] = bias[o] + sum over row m's active inputs j, ascending, of weight_t[j][o]
  const int64_t* row_start;
  const int32_t* active;
  const float* weight_t;  // [n_in, n_out]
  const float* bias;      // [n_out] or null
  float* y;               // [rows, n_out]
  // weight gradient: grad_weight_t[j][o] = sum over the rows m where j is active, ascending, of grad_out[m][o]
  const int64_t* col_start;
  const int32_t* col_rows;
  const float* grad_out;  // [rows, n_out]
  float* grad_weight_t;   // [n_in, n_out]
};

inline int64_t out_blocks(int64_t n_out) { return (n_out + kOutBlock - 1) / kOutBlock; }

}  // namespace spikeops
