// CPU kernel entry points. Each processes neurons [n_begin, n_end) over all T
// steps; callers split N across threads. Results do not depend on the split.
#pragma once

#include "spikeops/lif_fixed.h"
#include "spikeops/lif_substep.h"
#include "spikeops/fs_neuron.h"
#include "spikeops/half.h"
#include "spikeops/lif_args.h"
#include "spikeops/soft_lif.h"
#include "spikeops/spike_linear.h"

namespace spikeops::cpu {

enum class Isa : int32_t { Scalar = 0, AVX2 = 1, AVX512 = 2 };

// The ISA the kernels use: the best the CPU supports, or SPIKEOPS_CPU_ISA
// (scalar|avx2|avx512). Throws std::runtime_error for an unknown or unsupported choice.
Isa selected_isa();
bool isa_supported(Isa isa);
const char* isa_name(Isa isa);

// The LIF kernels for [T, N] buffers of S: float and double with state of the
// same type; Float16 and BFloat16 (include/spikeops/half.h) with float32 state,
// parameters and arithmetic.
#define SPIKEOPS_LIF_CPU_KERNELS(S, F)                                                      \
  void lif_forward_scalar(const LifForwardArgs<S, F>& a, int64_t n_begin, int64_t n_end);   \
  void lif_backward_scalar(const LifBackwardArgs<S, F>& a, int64_t n_begin, int64_t n_end); \
  void lif_forward_avx2(const LifForwardArgs<S, F>& a, int64_t n_begin, int64_t n_end);     \
  void lif_backward_avx2(const LifBackwardArgs<S, F>& a, int64_t n_begin, int64_t n_end);   \
  void lif_forward_avx512(const LifForwardArgs<S, F>& a, int64_t n_begin, int64_t n_end);   \
  void lif_backward_avx512(const LifBackwardArgs<S, F>& a, int64_t n_begin, int64_t n_end);
SPIKEOPS_LIF_CPU_KERNELS(float, float)
SPIKEOPS_LIF_CPU_KERNELS(Float16, float)
SPIKEOPS_LIF_CPU_KERNELS(BFloat16, float)
SPIKEOPS_LIF_CPU_KERNELS(double, double)
#undef SPIKEOPS_LIF_CPU_KERNELS
// The saved membrane of float32 data in 16 bits, rows [begin, end).
void saved_h_16_scalar(const SavedH16Args& a, int64_t row_begin, int64_t row_end);
void saved_h_16_avx2(const SavedH16Args& a, int64_t row_begin, int64_t row_end);
void saved_h_16_avx512(const SavedH16Args& a, int64_t row_begin, int64_t row_end);

// Element-wise neurons, elements [begin, end), S = float or double. fs_backward
// takes a range of kFsBlock-element blocks and writes one partial sum of the
// coefficient gradients per block.
template <class S> void soft_lif_forward(const SoftLifArgs<S>& a, int64_t begin, int64_t end);
// float32 soft-LIF, forward or (with a.grad_out) backward, on vector ISAs: the scalar kernel's bits.
void soft_lif_avx2(const SoftLifArgs<float>& a, int64_t begin, int64_t end);
void soft_lif_avx512(const SoftLifArgs<float>& a, int64_t begin, int64_t end);
void fs_forward_avx2(const FsArgs<float, float>& a, int64_t begin, int64_t end);
void fs_forward_avx512(const FsArgs<float, float>& a, int64_t begin, int64_t end);
void fs_backward_avx2(const FsArgs<float, float>& a, int64_t block_begin, int64_t block_end);
void fs_backward_avx512(const FsArgs<float, float>& a, int64_t block_begin, int64_t block_end);
template <class S> void soft_lif_backward(const SoftLifArgs<S>& a, int64_t begin, int64_t end);
template <class S> void fs_forward(const FsArgs<S, S>& a, int64_t begin, int64_t end);
template <class S> void fs_backward(const FsArgs<S, S>& a, int64_t block_begin, int64_t block_end);

// The fixed-point LIF (docs/math.md §8), neurons [n_begin, n_end); identical bits on every ISA.
void lif_substep_scalar(const LifSubstepArgs& a, int64_t n_begin, int64_t n_end);
void lif_substep_avx2(const LifSubstepArgs& a, int64_t n_begin, int64_t n_end);
void lif_substep_avx512(const LifSubstepArgs& a, int64_t n_begin, int64_t n_end);

void lif_fixed_scalar(const LifFixedArgs& a, int64_t n_begin, int64_t n_end);
void lif_fixed_avx2(const LifFixedArgs& a, int64_t n_begin, int64_t n_end);
void lif_fixed_avx512(const LifFixedArgs& a, int64_t n_begin, int64_t n_end);

// The unit in which the glue splits neurons between threads (the LIF kernels
// then run blocks of 8 KiB rows within each range).
constexpr int64_t kNeuronBlock = 2048;

// Linear layers on bit-packed spikes: packing and counting rows [begin, end); the forward pass over
// items (an output block and a chunk of kSpikeRowChunk rows each); the weight gradient
// over output blocks; the convolution's passes over SpikeConvArgs' items; and (scalar on every ISA) the active inputs of rows [begin, end),
// by column, and the weights' block layout.
#define SPIKEOPS_SPIKE_LINEAR_CPU_KERNELS(isa)                                                  \
  void spike_pack_##isa(const SpikePackArgs& a, int64_t begin, int64_t end);                     \
  void spike_count_##isa(const SpikeCountArgs& a, int64_t begin, int64_t end);                   \
  void spike_linear_forward_##isa(const SpikeLinearArgs& a, int64_t begin, int64_t end);         \
  void spike_linear_grad_weight_##isa(const SpikeLinearArgs& a, int64_t begin, int64_t end);     \
  void spike_conv_forward_##isa(const SpikeConvArgs& a, int64_t begin, int64_t end);             \
  void spike_conv_grad_weight_##isa(const SpikeConvArgs& a, int64_t begin, int64_t end);
SPIKEOPS_SPIKE_LINEAR_CPU_KERNELS(scalar)
SPIKEOPS_SPIKE_LINEAR_CPU_KERNELS(avx2)
SPIKEOPS_SPIKE_LINEAR_CPU_KERNELS(avx512)
#undef SPIKEOPS_SPIKE_LINEAR_CPU_KERNELS
void spike_rows(const SpikeRowsArgs& a, int64_t begin, int64_t end);
void spike_unpack(const SpikeUnpackArgs& a, int64_t row_begin, int64_t row_end);
// The convolution's weight gradient from its partial sums, over items (output block, input channel).
void spike_conv_reduce(const SpikeConvArgs& a, int64_t item_begin, int64_t item_end);
// The CSC of packed spikes over words [begin, end) (64 inputs each): counts, then rows.
void spike_column_counts(const SpikeColumnsArgs& a, int64_t word_begin, int64_t word_end);
void spike_column_rows(const SpikeColumnsArgs& a, int64_t word_begin, int64_t word_end);
// nn.Linear's weights as blocks, over output blocks [begin, end).
void spike_weight_blocks(const SpikeWeightArgs& a, int64_t block_begin, int64_t block_end);
void spike_grad_blocks(const SpikeGradArgs& a, int64_t block_begin, int64_t block_end);

}  // namespace spikeops::cpu
