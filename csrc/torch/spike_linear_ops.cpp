// Torch glue of the Linear layers on bit-packed spikes (docs/math.md §10): schemas,
// argument checks, the weight block layout and the choice of kernel. CPU only.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "arg_checks.h"
#include "cpu_dispatch.h"
#include "spikeops/cpu.h"

namespace spikeops {
namespace {

using at::Tensor;

// Spikes into words, and the CSR start of every row's active inputs.
std::tuple<Tensor, Tensor> spike_pack_impl(const Tensor& x_in) {
  check_floating(x_in, "x");
  TORCH_CHECK_VALUE(x_in.device().is_cpu() || x_in.is_meta(), "x is on ", x_in.device(),
                    "; packed spikes have CPU kernels only");
  TORCH_CHECK_VALUE(x_in.dim() >= 1 && x_in.size(-1) >= 1, "x must have a neuron dimension last, got shape ",
                    x_in.sizes());
  const int64_t n = x_in.size(-1), rows = x_in.numel() / n, n_words = (n + kSpikeWordBits - 1) / kSpikeWordBits;
  auto word_sizes = x_in.sizes().vec();
  word_sizes.back() = n_words;
  Tensor words = at::empty(word_sizes, x_in.options().dtype(at::kLong));
  Tensor row_start = at::empty({rows + 1}, x_in.options().dtype(at::kLong));
  if (x_in.is_meta()) return {words, row_start};
  const Tensor x = x_in.to(at::kFloat).contiguous();  // 0 and 1 are exact in every float type
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
    TORCH_CHECK_VALUE(c[m] >= 0, "x must hold spikes, 0 or 1: row ", m, " (of ", rows, " rows of ", n,
                      " neurons) has another value");
    start[m + 1] = start[m] + c[m];
  }
  return {words, row_start};
}

// Words back to float32 0/1 spikes [..., n].
Tensor spike_unpack_impl(const Tensor& words_in, int64_t n) {
  check_dtype(words_in, at::kLong, "words");
  TORCH_CHECK_VALUE(words_in.device().is_cpu() || words_in.is_meta(), "words are on ", words_in.device(),
                    "; packed spikes have CPU kernels only");
  check_int_range(n, "n", 1, INT32_MAX);
  const int64_t n_words = (n + kSpikeWordBits - 1) / kSpikeWordBits;
  TORCH_CHECK_VALUE(words_in.dim() >= 1 && words_in.size(-1) == n_words, "words must have ", n_words,
                    " words per row for n = ", n, ", got shape ", words_in.sizes());
  auto sizes = words_in.sizes().vec();
  sizes.back() = n;
  Tensor x = at::empty(sizes, words_in.options().dtype(at::kFloat));
  if (words_in.is_meta() || x.numel() == 0) return x;
  const Tensor words = words_in.contiguous();
  SpikeUnpackArgs a{reinterpret_cast<const uint64_t*>(words.data_ptr<int64_t>()), n, n_words, x.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeUnpackArgs>{cpu::spike_unpack, nullptr, nullptr}, a, x.numel() / n, 1, n);
  return x;
}

// Packed spikes of `rows` rows of n_in inputs, checked.
struct Packed {
  const uint64_t* words;
  int64_t rows, n_words;
  const int64_t* row_start;
};

Packed packed(const Tensor& words, const Tensor& row_start, int64_t n_in) {
  check_dtype(words, at::kLong, "words");
  check_dtype(row_start, at::kLong, "row_start");
  TORCH_CHECK_VALUE(words.device().is_cpu() && row_start.device().is_cpu(),
                    "packed spikes have CPU kernels only; words are on ", words.device());
  check_int_range(n_in, "n_in", 1, INT32_MAX);
  const int64_t n_words = (n_in + kSpikeWordBits - 1) / kSpikeWordBits;
  TORCH_CHECK_VALUE(words.dim() >= 1 && words.size(-1) == n_words, "words must have ", n_words,
                    " words per row for n_in = ", n_in, ", got shape ", words.sizes());
  const int64_t rows = words.numel() / n_words;
  TORCH_CHECK_VALUE(row_start.dim() == 1 && row_start.size(0) == rows + 1, "row_start must have ", rows + 1,
                    " entries (rows + 1), got shape ", row_start.sizes());
  TORCH_CHECK_VALUE(words.is_contiguous() && row_start.is_contiguous(), "words and row_start must be contiguous");
  const int64_t* start = row_start.data_ptr<int64_t>();
  TORCH_CHECK_VALUE(start[0] == 0 && start[rows] >= 0 && start[rows] <= rows * n_in,
                    "row_start does not come from spike_pack");
  return {reinterpret_cast<const uint64_t*>(words.data_ptr<int64_t>()), rows, n_words, start};
}

Tensor spike_linear_impl(const Tensor& words, const Tensor& row_start, int64_t n_in, const Tensor& weight_in,
                         const std::optional<Tensor>& bias) {
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
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == n_out, "bias must have shape [", n_out, "], got ",
                      bias->sizes());
    b = at::constant_pad_nd(*bias, {0, blocks * kOutBlock - n_out}).contiguous();
  }
  Tensor y = at::empty({p.rows, n_out}, weight.options());
  if (p.rows == 0) return y;
  // Each row's active inputs.
  const int64_t nnz = p.row_start[p.rows];
  Tensor active = at::empty({nnz}, words.options().dtype(at::kInt));
  SpikeRowsArgs r{p.words, p.n_words, p.row_start, active.data_ptr<int32_t>()};
  run_cpu(CpuKernels<SpikeRowsArgs>{cpu::spike_rows, nullptr, nullptr}, r, p.rows, 1, p.n_words + nnz / p.rows + 1);
  // The weights as blocks.
  Tensor w = at::empty({blocks, n_in, kOutBlock}, weight.options());
  SpikeWeightArgs wa{weight.data_ptr<float>(), n_out, n_in, w.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeWeightArgs>{cpu::spike_weight_blocks, nullptr, nullptr}, wa, blocks, 1,
          n_in * kOutBlock);

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
  Tensor grad_out = at::empty({blocks, p.rows, kOutBlock}, grad_rows.options());
  SpikeGradArgs ga{grad_rows.data_ptr<float>(), p.rows, n_out, grad_out.data_ptr<float>()};
  run_cpu(CpuKernels<SpikeGradArgs>{cpu::spike_grad_blocks, nullptr, nullptr}, ga, blocks, 1, p.rows * kOutBlock);
  // The active inputs by column.
  const int64_t nnz = p.row_start[p.rows];
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

}  // namespace

SPIKEOPS_LIBRARY_FRAGMENT(SPIKEOPS_OPS, m) {
  m.def("spike_pack(Tensor x) -> (Tensor words, Tensor row_start)");
  m.def("spike_unpack(Tensor words, int n) -> Tensor");
  m.def("spike_linear(Tensor words, Tensor row_start, int n_in, Tensor weight, Tensor? bias) -> Tensor");
  m.def("spike_linear_grad_weight(Tensor words, Tensor row_start, int n_in, Tensor grad_out) -> Tensor");
}

SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, CPU, m) {
  m.impl("spike_pack", &spike_pack_impl);
  m.impl("spike_unpack", &spike_unpack_impl);
  m.impl("spike_linear", &spike_linear_impl);
  m.impl("spike_linear_grad_weight", &spike_linear_grad_weight_impl);
}

}  // namespace spikeops
