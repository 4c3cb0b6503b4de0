// Torch glue of the Linear and convolution layers on bit-packed spikes (docs/math.md §10): schemas,
// argument checks, the weight block layout and the choice of kernel. Packing and the Linear
// run on CPU and CUDA; the convolution on CPU.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>

#include "arg_checks.h"
#include "cpu_dispatch.h"
#include "op_library.h"
#include "spikeops/cpu.h"
#if defined(SPIKEOPS_CUDA_KERNELS)
#include "spikeops/cuda.h"
#endif

namespace spikeops {
namespace {

using at::Tensor;

const uint64_t* word_data(const Tensor& words) { return reinterpret_cast<const uint64_t*>(words.data_ptr<int64_t>()); }

void check_device(const Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(t.device().is_cpu() || t.is_meta() ||
#if defined(SPIKEOPS_WITH_CUDA)
                        t.device().is_cuda() ||
#endif
                        false,
                    name, " is on ", t.device(), "; packed spikes have kernels for CPU",
#if defined(SPIKEOPS_WITH_CUDA)
                    " and CUDA",
#endif
                    " tensors");
}

// Row starts from per-row spike counts (on the counts' device).
Tensor starts_of(const Tensor& counts) {
  return at::cat({at::zeros({1}, counts.options()), counts.cumsum(0)});
}

// Spikes into words, and the CSR start of every row's active inputs.
std::tuple<Tensor, Tensor> spike_pack_impl(const Tensor& x_in) {
  check_floating(x_in, "x");
  check_device(x_in, "x");
  TORCH_CHECK_VALUE(x_in.dim() >= 1 && x_in.size(-1) >= 1, "x must have a neuron dimension last, got shape ",
                    x_in.sizes());
  const int64_t n = x_in.size(-1), rows = x_in.numel() / n, n_words = (n + kSpikeWordBits - 1) / kSpikeWordBits;
  auto word_sizes = x_in.sizes().vec();
  word_sizes.back() = n_words;
  Tensor words = at::empty(word_sizes, x_in.options().dtype(at::kLong));
  Tensor row_start = at::empty({rows + 1}, x_in.options().dtype(at::kLong));
  if (x_in.is_meta()) return {words, row_start};
  const Tensor x = x_in.to(at::kFloat).contiguous();  // 0 and 1 are exact in every float type
  const auto refuse = [&](int64_t row) {
    TORCH_CHECK_VALUE(false, "x must hold spikes, 0 or 1: row ", row, " (of ", rows, " rows of ", n,
                      " neurons) has another value");
  };
#if defined(SPIKEOPS_CUDA_KERNELS)
  if (uses_cuda_kernels(x)) {
    Tensor word_counts = at::empty({rows, n_words}, x.options().dtype(at::kInt));
    run_cuda(x, [&](cudaStream_t stream) {
      return cuda::spike_pack(x.data_ptr<float>(), rows, n, reinterpret_cast<uint64_t*>(words.data_ptr<int64_t>()),
                              word_counts.data_ptr<int32_t>(), stream);
    });
    if (rows == 0) return {words, row_start.zero_()};
    const Tensor bad = (word_counts < 0).any(1);
    if (bad.any().item<bool>()) refuse(bad.nonzero()[0][0].item<int64_t>());
    return {words, starts_of(word_counts.sum(1, false, at::kLong))};
  }
#endif
  Tensor counts = at::empty({rows}, row_start.options());
  SpikePackArgs a{};
  a.x = x.data_ptr<float>();
  a.n = n;
  a.n_words = n_words;
  a.words = reinterpret_cast<uint64_t*>(words.data_ptr<int64_t>());
  a.counts = counts.data_ptr<int64_t>();
  run_cpu(CpuKernels<SpikePackArgs>{cpu::spike_pack_scalar, cpu::spike_pack_avx2, cpu::spike_pack_avx512}, a, rows,
          1, n);
  const int64_t* c = a.counts;
  int64_t* start = row_start.data_ptr<int64_t>();
  start[0] = 0;
  for (int64_t m = 0; m < rows; ++m) {
    if (c[m] < 0) refuse(m);
    start[m + 1] = start[m] + c[m];
  }
  return {words, row_start};
}

// Words back to float32 0/1 spikes [..., n].
Tensor spike_unpack_impl(const Tensor& words_in, int64_t n) {
  check_dtype(words_in, at::kLong, "words");
  check_device(words_in, "words");
  check_int_range(n, "n", 1, INT32_MAX);
  const int64_t n_words = (n + kSpikeWordBits - 1) / kSpikeWordBits;
  TORCH_CHECK_VALUE(words_in.dim() >= 1 && words_in.size(-1) == n_words, "words must have ", n_words,
                    " words per row for n = ", n, ", got shape ", words_in.sizes());
  auto sizes = words_in.sizes().vec();
  sizes.back() = n;
  Tensor x = at::empty(sizes, words_in.options().dtype(at::kFloat));
  if (words_in.is_meta() || x.numel() == 0) return x;
  const Tensor words = words_in.contiguous();
#if defined(SPIKEOPS_CUDA_KERNELS)
  if (uses_cuda_kernels(words)) {
    run_cuda(words, [&](cudaStream_t stream) {
      return cuda::spike_unpack(word_data(words), x.numel() / n, n, x.data_ptr<float>(), stream);
    });
    return x;
  }
#endif
  SpikeUnpackArgs a{word_data(words), n, n_words, x.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeUnpackArgs>{cpu::spike_unpack, nullptr, nullptr}, a, x.numel() / n, 1, n);
  return x;
}

// The CSR row starts of words that a neuron kernel wrote (lif_forward's spike_words): each row's
// running spike count.
Tensor spike_row_start_impl(const Tensor& words) {
  check_dtype(words, at::kLong, "words");
  TORCH_CHECK_VALUE(words.device().is_cpu(), "words are on ", words.device(),
                    "; spike_row_start counts on CPU (spike_pack gives CUDA spikes their row starts)");
  TORCH_CHECK_VALUE(words.dim() == 2 && words.is_contiguous(), "words must be a contiguous [rows, words per row] "
                    "tensor, got shape ", words.sizes());
  const int64_t rows = words.size(0), n_words = words.size(1);
  Tensor row_start = at::empty({rows + 1}, words.options());
  int64_t* start = row_start.data_ptr<int64_t>();
  start[0] = 0;
  SpikeCountArgs a{word_data(words), n_words, start + 1};
  run_cpu(CpuKernels<SpikeCountArgs>{cpu::spike_count_scalar, cpu::spike_count_avx2, cpu::spike_count_avx512}, a,
          rows, 1, n_words);
  for (int64_t m = 0; m < rows; ++m) start[m + 1] += start[m];
  return row_start;
}

// Packed spikes of `rows` rows of n_in inputs, checked; nnz spikes in all.
struct Packed {
  const uint64_t* words;
  int64_t rows, n_words;
  const int64_t* row_start;  // on the words' device
  int64_t nnz;
};

Packed packed(const Tensor& words, const Tensor& row_start, int64_t n_in) {
  check_dtype(words, at::kLong, "words");
  check_dtype(row_start, at::kLong, "row_start");
  check_device(words, "words");
  check_same_device(row_start, words, "row_start", "words");
  check_int_range(n_in, "n_in", 1, INT32_MAX);
  const int64_t n_words = (n_in + kSpikeWordBits - 1) / kSpikeWordBits;
  TORCH_CHECK_VALUE(words.dim() >= 1 && words.size(-1) == n_words, "words must have ", n_words,
                    " words per row for n_in = ", n_in, ", got shape ", words.sizes());
  const int64_t rows = words.numel() / n_words;
  TORCH_CHECK_VALUE(row_start.dim() == 1 && row_start.size(0) == rows + 1, "row_start must have ", rows + 1,
                    " entries (rows + 1), got shape ", row_start.sizes());
  TORCH_CHECK_VALUE(words.is_contiguous() && row_start.is_contiguous(), "words and row_start must be contiguous");
  const Tensor ends = row_start.is_cpu() ? row_start : at::stack({row_start[0], row_start[rows]}).cpu();
  const int64_t first = ends.data_ptr<int64_t>()[0], nnz = ends.data_ptr<int64_t>()[ends.numel() - 1];
  TORCH_CHECK_VALUE(first == 0 && nnz >= 0 && nnz <= rows * n_in, "row_start does not come from spike_pack");
  return {word_data(words), rows, n_words, row_start.data_ptr<int64_t>(), nnz};
}

// Each row's active inputs (CSR, ascending), for the kernels.
Tensor active_inputs(const Packed& p, const Tensor& like) {
  Tensor active = at::empty({p.nnz}, like.options().dtype(at::kInt));
  if (p.rows == 0) return active;
#if defined(SPIKEOPS_CUDA_KERNELS)
  if (uses_cuda_kernels(like)) {
    run_cuda(like, [&](cudaStream_t stream) {
      return cuda::spike_rows(p.words, p.rows, p.n_words, p.row_start, active.data_ptr<int32_t>(), stream);
    });
    return active;
  }
#endif
  SpikeRowsArgs r{p.words, p.n_words, p.row_start, active.data_ptr<int32_t>()};
  run_cpu(CpuKernels<SpikeRowsArgs>{cpu::spike_rows, nullptr, nullptr}, r, p.rows, 1, p.n_words + p.nnz / p.rows + 1);
  return active;
}

// Weights [n_out, n] (contiguous float32, CPU) as blocks [blocks][n][kOutBlock], zero padded.
Tensor blocks_of(const Tensor& weight) {
  const int64_t n_out = weight.size(0), n = weight.size(1), blocks = out_blocks(n_out);
  Tensor w = at::empty({blocks, n, kOutBlock}, weight.options());
  SpikeWeightArgs wa{weight.data_ptr<float>(), n_out, n, w.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeWeightArgs>{cpu::spike_weight_blocks, nullptr, nullptr}, wa, blocks, 1, n * kOutBlock);
  return w;
}

Tensor spike_linear_weight_blocks_impl(const Tensor& weight) {
  check_dtype(weight, at::kFloat, "weight");
  TORCH_CHECK_VALUE(weight.device().is_cpu(), "weight is on ", weight.device(),
                    "; the weight block layout is the CPU kernels'");
  TORCH_CHECK_VALUE(weight.dim() == 2 && weight.size(0) >= 1 && weight.size(1) >= 1,
                    "weight must have shape [n_out, n_in], got ", weight.sizes());
  return blocks_of(weight.contiguous());
}

Tensor spike_linear_impl(const Tensor& words, const Tensor& row_start, int64_t n_in, const Tensor& weight_in,
                         const std::optional<Tensor>& bias, const std::optional<Tensor>& weight_blocks) {
  check_dtype(weight_in, at::kFloat, "weight");
  TORCH_CHECK_VALUE(weight_in.dim() == 2 && weight_in.size(1) == n_in && weight_in.size(0) >= 1,
                    "weight must have shape [n_out, n_in = ", n_in, "], got ", weight_in.sizes());
  check_same_device(weight_in, words, "weight", "words");
  const Packed p = packed(words, row_start, n_in);
  const Tensor weight = weight_in.contiguous();
  const int64_t n_out = weight.size(0), blocks = out_blocks(n_out);
  Tensor b;
  if (bias.has_value() && bias->defined()) {
    check_dtype(*bias, at::kFloat, "bias");
    check_same_device(*bias, words, "bias", "words");
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == n_out, "bias must have shape [", n_out, "], got ",
                      bias->sizes());
    b = bias->contiguous();
  }
  Tensor y = at::empty({p.rows, n_out}, weight.options());
  if (p.rows == 0) return y;
  const Tensor active = active_inputs(p, words);
  const int64_t nnz = p.nnz;
#if defined(SPIKEOPS_CUDA_KERNELS)
  if (uses_cuda_kernels(words)) {
    TORCH_CHECK_VALUE(!(weight_blocks.has_value() && weight_blocks->defined()),
                      "weight_blocks: the block layout is the CPU kernels'; CUDA takes the weight alone");
    const Tensor weight_t = weight.t().contiguous();
    SpikeLinearCudaArgs a{};
    a.rows = p.rows, a.n_in = n_in, a.n_out = n_out;
    a.row_start = p.row_start;
    a.active = active.data_ptr<int32_t>();
    a.weight_t = weight_t.data_ptr<float>();
    a.bias = b.defined() ? b.data_ptr<float>() : nullptr;
    a.y = y.data_ptr<float>();
    run_cuda(words, [&](cudaStream_t stream) { return cuda::spike_linear_forward(a, stream); });
    return y;
  }
#endif
  if (b.defined()) b = at::constant_pad_nd(b, {0, blocks * kOutBlock - n_out}).contiguous();
  Tensor w;
  if (weight_blocks.has_value() && weight_blocks->defined()) {  // the caller's, made once for many calls
    w = *weight_blocks;
    check_dtype(w, at::kFloat, "weight_blocks");
    check_same_device(w, words, "weight_blocks", "words");
    TORCH_CHECK_VALUE(w.is_contiguous() && w.dim() == 3 && w.size(0) == blocks && w.size(1) == n_in &&
                          w.size(2) == kOutBlock,
                      "weight_blocks must be spike_linear_weight_blocks(weight), a contiguous [", blocks, ", ", n_in,
                      ", ", kOutBlock, "] tensor, got shape ", w.sizes());
  } else {
    w = blocks_of(weight);
  }

  SpikeLinearArgs a{};
  a.rows = p.rows;
  a.n_in = n_in;
  a.n_out = n_out;
  a.row_start = p.row_start;
  a.active = active.data_ptr<int32_t>();
  a.weight_blocks = w.data_ptr<float>();
  a.bias = b.defined() ? b.data_ptr<float>() : nullptr;
  a.y = y.data_ptr<float>();
  const int64_t chunks = (p.rows + kSpikeRowChunk - 1) / kSpikeRowChunk;
  const int64_t per_item = (nnz / std::max<int64_t>(chunks, 1) + kSpikeRowChunk) * kOutBlock;
  run_cpu(CpuKernels<SpikeLinearArgs>{cpu::spike_linear_forward_scalar, cpu::spike_linear_forward_avx2,
                                      cpu::spike_linear_forward_avx512},
          a, blocks * chunks, 1, per_item);
  return y;
}

Tensor spike_linear_grad_weight_impl(const Tensor& words, const Tensor& row_start, int64_t n_in,
                                     const Tensor& grad_out_in) {
  check_dtype(grad_out_in, at::kFloat, "grad_out");
  check_same_device(grad_out_in, words, "grad_out", "words");
  const Packed p = packed(words, row_start, n_in);
  TORCH_CHECK_VALUE(grad_out_in.dim() == 2 && grad_out_in.size(0) == p.rows && grad_out_in.size(1) >= 1,
                    "grad_out must have shape [rows = ", p.rows, ", n_out], got ", grad_out_in.sizes());
  const int64_t n_out = grad_out_in.size(1), blocks = out_blocks(n_out);
  if (p.rows == 0) return at::zeros({n_out, n_in}, grad_out_in.options());
  const Tensor grad_rows = grad_out_in.contiguous();
#if defined(SPIKEOPS_CUDA_KERNELS)
  if (uses_cuda_kernels(words)) {
    Tensor counts = at::empty({n_in}, words.options());
    run_cuda(words, [&](cudaStream_t stream) {
      return cuda::spike_columns(p.words, p.rows, p.n_words, n_in, counts.data_ptr<int64_t>(), nullptr, nullptr,
                                 stream);
    });
    const Tensor col_start = starts_of(counts);
    Tensor col_rows = at::empty({p.nnz}, words.options().dtype(at::kInt));
    run_cuda(words, [&](cudaStream_t stream) {
      return cuda::spike_columns(p.words, p.rows, p.n_words, n_in, nullptr, col_start.data_ptr<int64_t>(),
                                 col_rows.data_ptr<int32_t>(), stream);
    });
    Tensor grad_weight_t = at::empty({n_in, n_out}, grad_rows.options());
    SpikeLinearCudaArgs a{};
    a.rows = p.rows, a.n_in = n_in, a.n_out = n_out;
    a.col_start = col_start.data_ptr<int64_t>();
    a.col_rows = col_rows.data_ptr<int32_t>();
    a.grad_out = grad_rows.data_ptr<float>();
    a.grad_weight_t = grad_weight_t.data_ptr<float>();
    run_cuda(words, [&](cudaStream_t stream) { return cuda::spike_linear_grad_weight(a, stream); });
    return grad_weight_t.t().contiguous();
  }
#endif
  Tensor grad_out = at::empty({blocks, p.rows, kOutBlock}, grad_rows.options());
  SpikeGradArgs ga{grad_rows.data_ptr<float>(), p.rows, n_out, grad_out.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeGradArgs>{cpu::spike_grad_blocks, nullptr, nullptr}, ga, blocks, 1, p.rows * kOutBlock);
  // The active inputs by column.
  const int64_t nnz = p.nnz;
  Tensor col_start = at::empty({n_in + 1}, words.options());
  Tensor col_rows = at::empty({nnz}, words.options().dtype(at::kInt));
  SpikeColumnsArgs c{p.words, p.rows, p.n_words, n_in, col_start.data_ptr<int64_t>(), col_rows.data_ptr<int32_t>()};
  const int64_t per_word = p.rows + nnz / p.n_words;
  run_cpu(CpuKernels<SpikeColumnsArgs>{cpu::spike_column_counts, nullptr, nullptr}, c, p.n_words, 1, per_word);
  c.col_start[0] = 0;
  for (int64_t j = 0; j < n_in; ++j) c.col_start[j + 1] += c.col_start[j];
  run_cpu(CpuKernels<SpikeColumnsArgs>{cpu::spike_column_rows, nullptr, nullptr}, c, p.n_words, 1, per_word);

  Tensor grad_weight = at::empty({n_out, n_in}, grad_out.options());
  SpikeLinearArgs a{};
  a.rows = p.rows;
  a.n_in = n_in;
  a.n_out = n_out;
  a.col_start = c.col_start;
  a.col_rows = c.col_rows;
  a.grad_out = grad_out.data_ptr<float>();
  a.grad_weight = grad_weight.data_ptr<float>();
  run_cpu(CpuKernels<SpikeLinearArgs>{cpu::spike_linear_grad_weight_scalar, cpu::spike_linear_grad_weight_avx2,
                                      cpu::spike_linear_grad_weight_avx512},
          a, blocks, 1, (nnz + n_in) * kOutBlock);
  return grad_weight;
}

void check_conv_device(const Tensor& words) {
  TORCH_CHECK_VALUE(words.device().is_cpu(), "words are on ", words.device(),
                    "; the convolution on packed spikes has CPU kernels only");
}

// The geometry of a convolution on packed spikes of images [C, H, W], checked.
SpikeConvArgs conv_geometry(const Packed& p, at::IntArrayRef in_chw, int64_t n_out, at::IntArrayRef kernel,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation) {
  TORCH_CHECK_VALUE(in_chw.size() == 3 && in_chw[0] >= 1 && in_chw[1] >= 1 && in_chw[2] >= 1,
                    "in_chw must be the input's [C, H, W], got ", in_chw);
  const std::tuple<at::IntArrayRef, const char*, int64_t> pairs[] = {
      {kernel, "kernel_size", 1}, {stride, "stride", 1}, {padding, "padding", 0}, {dilation, "dilation", 1}};
  for (const auto& [v, name, least] : pairs) {
    TORCH_CHECK_VALUE(v.size() == 2, name, " must have 2 entries, got ", v);
    TORCH_CHECK_VALUE(v[0] >= least && v[1] >= least, name, " must be >= ", least, ", got ", v);
  }
  SpikeConvArgs a{};
  a.images = p.rows;
  a.C = in_chw[0], a.H = in_chw[1], a.W = in_chw[2];
  a.n_out = n_out, a.KH = kernel[0], a.KW = kernel[1];
  a.stride_h = stride[0], a.stride_w = stride[1], a.pad_h = padding[0], a.pad_w = padding[1];
  a.dil_h = dilation[0], a.dil_w = dilation[1];
  a.OH = (a.H + 2 * a.pad_h - a.dil_h * (a.KH - 1) - 1) / a.stride_h + 1;
  a.OW = (a.W + 2 * a.pad_w - a.dil_w * (a.KW - 1) - 1) / a.stride_w + 1;
  TORCH_CHECK_VALUE(a.H + 2 * a.pad_h >= a.dil_h * (a.KH - 1) + 1 && a.W + 2 * a.pad_w >= a.dil_w * (a.KW - 1) + 1,
                    "the kernel (", kernel, ", dilation ", dilation, ") is larger than the padded input ", in_chw);
  TORCH_CHECK_VALUE(a.C * a.H * a.W <= INT32_MAX, "an image must have at most 2^31 - 1 inputs");
  a.row_start = p.row_start;
  return a;
}

Tensor spike_conv2d_impl(const Tensor& words, const Tensor& row_start, at::IntArrayRef in_chw, const Tensor& weight_in,
                         const std::optional<Tensor>& bias, at::IntArrayRef stride, at::IntArrayRef padding,
                         at::IntArrayRef dilation) {
  check_dtype(weight_in, at::kFloat, "weight");
  check_same_device(weight_in, words, "weight", "words");
  check_conv_device(words);
  TORCH_CHECK_VALUE(weight_in.dim() == 4 && in_chw.size() == 3 && weight_in.size(1) == in_chw[0] &&
                        weight_in.size(0) >= 1,
                    "weight must have shape [C_out, C = ", in_chw.size() == 3 ? in_chw[0] : -1, ", kH, kW], got ",
                    weight_in.sizes());
  const Packed p = packed(words, row_start, in_chw[0] * in_chw[1] * in_chw[2]);
  const Tensor weight = weight_in.contiguous();
  const int64_t n_out = weight.size(0), blocks = out_blocks(n_out);
  SpikeConvArgs a = conv_geometry(p, in_chw, n_out, {weight.size(2), weight.size(3)}, stride, padding, dilation);
  Tensor b;
  if (bias.has_value() && bias->defined()) {
    check_dtype(*bias, at::kFloat, "bias");
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == n_out, "bias must have shape [", n_out, "], got ",
                      bias->sizes());
    b = at::constant_pad_nd(*bias, {0, blocks * kOutBlock - n_out}).contiguous();
  }
  Tensor y = at::empty({p.rows, a.OH, a.OW, n_out}, weight.options());
  if (p.rows > 0) {
    const Tensor w = blocks_of(weight.view({n_out, -1}));
    const Tensor active = active_inputs(p, words);
    a.active = active.data_ptr<int32_t>();
    a.weight_blocks = w.data_ptr<float>();
    a.bias = b.defined() ? b.data_ptr<float>() : nullptr;
    a.y = y.data_ptr<float>();
    const int64_t per_image = (p.nnz / p.rows + 1) * a.KH * a.KW * kOutBlock + a.OH * a.OW * kOutBlock;
    run_cpu(CpuKernels<SpikeConvArgs>{cpu::spike_conv_forward_scalar, cpu::spike_conv_forward_avx2,
                                      cpu::spike_conv_forward_avx512},
            a, p.rows * blocks, 1, per_image);
  }
  return y.permute({0, 3, 1, 2});  // [images, n_out, OH, OW], channels last in memory
}

Tensor spike_conv2d_grad_weight_impl(const Tensor& words, const Tensor& row_start, at::IntArrayRef in_chw,
                                     const Tensor& grad_out_in, at::IntArrayRef kernel_size, at::IntArrayRef stride,
                                     at::IntArrayRef padding, at::IntArrayRef dilation) {
  check_dtype(grad_out_in, at::kFloat, "grad_out");
  check_same_device(grad_out_in, words, "grad_out", "words");
  check_conv_device(words);
  TORCH_CHECK_VALUE(in_chw.size() == 3, "in_chw must be the input's [C, H, W], got ", in_chw);
  const Packed p = packed(words, row_start, in_chw[0] * in_chw[1] * in_chw[2]);
  TORCH_CHECK_VALUE(grad_out_in.dim() == 4 && grad_out_in.size(0) == p.rows && grad_out_in.size(1) >= 1,
                    "grad_out must have shape [images = ", p.rows, ", C_out, OH, OW], got ", grad_out_in.sizes());
  const int64_t n_out = grad_out_in.size(1), blocks = out_blocks(n_out);
  SpikeConvArgs a = conv_geometry(p, in_chw, n_out, kernel_size, stride, padding, dilation);
  TORCH_CHECK_VALUE(grad_out_in.size(2) == a.OH && grad_out_in.size(3) == a.OW, "grad_out must have shape [",
                    p.rows, ", ", n_out, ", ", a.OH, ", ", a.OW, "], got ", grad_out_in.sizes());
  if (p.rows == 0) return at::zeros({n_out, a.C, a.KH, a.KW}, grad_out_in.options());
  // The output gradient as blocks [blocks][images * OH * OW][kOutBlock].
  const Tensor grad_rows = grad_out_in.permute({0, 2, 3, 1}).contiguous();
  const int64_t rows = p.rows * a.OH * a.OW;
  Tensor grad_out = at::empty({blocks, rows, kOutBlock}, grad_rows.options());
  SpikeGradArgs ga{grad_rows.data_ptr<float>(), rows, n_out, grad_out.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeGradArgs>{cpu::spike_grad_blocks, nullptr, nullptr}, ga, blocks, 1, rows * kOutBlock);
  const Tensor active = active_inputs(p, words);
  const int64_t chunks = (p.rows + kConvImageChunk - 1) / kConvImageChunk, taps = a.KH * a.KW;
  Tensor partials = at::empty({blocks * chunks, a.C * taps * kOutBlock}, grad_out.options());
  Tensor grad_weight = at::empty({n_out, a.C, a.KH, a.KW}, grad_out.options());
  a.active = active.data_ptr<int32_t>();
  a.grad_out = grad_out.data_ptr<float>();
  a.partials = partials.data_ptr<float>();
  a.grad_weight = grad_weight.data_ptr<float>();
  const int64_t per_chunk = (p.nnz / chunks + 1) * taps * kOutBlock / 4 + a.C * taps * kOutBlock;
  run_cpu(CpuKernels<SpikeConvArgs>{cpu::spike_conv_grad_weight_scalar, cpu::spike_conv_grad_weight_avx2,
                                    cpu::spike_conv_grad_weight_avx512},
          a, blocks * chunks, 1, per_chunk);
  run_cpu(CpuKernels<SpikeConvArgs>{cpu::spike_conv_reduce, nullptr, nullptr}, a, blocks * a.C, 1,
          chunks * taps * kOutBlock);
  return grad_weight;
}

}  // namespace

SPIKEOPS_LIBRARY_FRAGMENT(SPIKEOPS_OPS, m) {
  m.def("spike_pack(Tensor x) -> (Tensor words, Tensor row_start)");
  m.def("spike_unpack(Tensor words, int n) -> Tensor");
  m.def("spike_row_start(Tensor words) -> Tensor");
  m.def("spike_linear(Tensor words, Tensor row_start, int n_in, Tensor weight, Tensor? bias, "
        "Tensor? weight_blocks=None) -> Tensor");
  m.def("spike_linear_weight_blocks(Tensor weight) -> Tensor");
  m.def("spike_linear_grad_weight(Tensor words, Tensor row_start, int n_in, Tensor grad_out) -> Tensor");
  m.def("spike_conv2d(Tensor words, Tensor row_start, int[] in_chw, Tensor weight, Tensor? bias, int[] stride, "
        "int[] padding, int[] dilation) -> Tensor");
  m.def("spike_conv2d_grad_weight(Tensor words, Tensor row_start, int[] in_chw, Tensor grad_out, int[] kernel_size, "
        "int[] stride, int[] padding, int[] dilation) -> Tensor");
}

void register_spike_impls(torch::Library& m) {
  m.impl("spike_pack", &spike_pack_impl);
  m.impl("spike_unpack", &spike_unpack_impl);
  m.impl("spike_row_start", &spike_row_start_impl);
  m.impl("spike_linear", &spike_linear_impl);
  m.impl("spike_linear_weight_blocks", &spike_linear_weight_blocks_impl);
  m.impl("spike_linear_grad_weight", &spike_linear_grad_weight_impl);
  m.impl("spike_conv2d", &spike_conv2d_impl);
  m.impl("spike_conv2d_grad_weight", &spike_conv2d_grad_weight_impl);
}

SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CPU, m) { register_spike_impls(m); }
SPIKEOPS_IMPL_CUDA_KEY(register_spike_impls)

}  // namespace spikeops
