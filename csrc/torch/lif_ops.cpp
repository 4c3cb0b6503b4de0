// Torch glue for the LIF ops: schemas, argument checks, allocation and the
// choice of kernel. No neuron math lives here.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/ExpandUtils.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "arg_checks.h"
#include "cpu_dispatch.h"
#include "lif_glue.h"
#include "output_cache.h"

namespace spikeops {
namespace {

using at::Tensor;

// Outputs larger than this are written with streaming stores: they would not
// stay in cache anyway (a share of a server's last-level cache).
constexpr int64_t kStreamOutputBytes = 8 << 20;

// Shapes are SymInts throughout the checks and allocations: the same code is the
// op's meta kernel, which torch.compile runs on symbolic shapes.
c10::SymIntArrayRef trailing_shape(const Tensor& x) { return x.sym_sizes().slice(1); }

// State, parameters and per-neuron gradients are float32 for 16-bit [T, N] data.
at::ScalarType state_dtype(at::ScalarType dtype) {
  return (dtype == at::kHalf || dtype == at::kBFloat16) ? at::kFloat : dtype;
}

// An optional per-neuron tensor, made contiguous with the trailing shape and dtype.
Tensor state_arg(const std::optional<Tensor>& t, const Tensor& x, at::ScalarType dtype, const char* name) {
  if (!t.has_value() || !t->defined()) return Tensor();
  check_same_device(*t, x, name, "x");
  TORCH_CHECK_VALUE(t->sym_sizes() == trailing_shape(x), name, " must have shape ", trailing_shape(x),
                    " (x's shape without T), got ", t->sym_sizes());
  if (dtype == at::kInt) {
    check_dtype(*t, at::kInt, name);
  } else {
    check_floating(*t, name);
  }
  return t->to(dtype).contiguous();
}

// A parameter: one value or a tensor broadcastable to the trailing shape, its
// values in the allowed interval where they are on the host. A one-element CPU tensor is
// read on the host (allowed with any x, like a Python number); anything else
// lives on x's device in the state dtype, and a single device value stays
// there (no host sync, so CUDA graphs can capture it).
Tensor param_arg(const Tensor& p, const Tensor& x, const char* name, const Interval& allowed) {
  check_floating(p, name);
  check_param_range(p, name, allowed);
  const auto dtype = state_dtype(x.scalar_type());
  if (p.sym_numel() == 1 && p.device().is_cpu()) return p;
  check_same_device(p, x, name, "x");
  if (p.sym_numel() == 1) return p.to(dtype).reshape({1});
  const auto trailing = trailing_shape(x);
  TORCH_CHECK_VALUE(at::is_expandable_to(p.sym_sizes(), trailing), name, " of shape ", p.sym_sizes(),
                    " cannot be broadcast to the neuron shape ", trailing);
  return p.to(dtype).expand_symint(trailing).contiguous();
}

// The three neuron parameters of every LIF op (docs/math.md §1): decay in
// [0, 1], a finite gain and a finite threshold > 0.
template <class Tensors>
void set_params(Tensors& t, const Tensor& alpha, const Tensor& gamma, const Tensor& theta, const Tensor& like) {
  t.alpha = param_arg(alpha, like, "decay (alpha)", Interval{0.0, 1.0});
  t.gamma = param_arg(gamma, like, "gain (gamma)", kFiniteValues);
  t.theta = param_arg(theta, like, "threshold (theta)", Interval{0.0, INFINITY, true, true});
}

LifSettings make_config(int64_t reset, double v_reset, int64_t refractory, bool deferred_reset,
                      bool detach_reset, int64_t surrogate, double sg_height, double sg_width,
                      bool track_age) {
  TORCH_CHECK_VALUE(reset >= 0 && reset < kNumResetModes, "reset must be a mode in [0, ", kNumResetModes,
                    ") (subtract, zero, none), got ", reset);
  check_int_range(refractory, "refractory (steps)", 0, (1 << 24) - 1);
  TORCH_CHECK_VALUE(!(deferred_reset && refractory > 0), "refractory steps are not supported with deferred_reset");
  check_finite(v_reset, "v_reset");
  TORCH_CHECK_VALUE(surrogate != static_cast<int64_t>(SurrogateKind::FsTriangle),
                    "surrogate: fs_triangle is the FS neuron's surrogate (it reads the membrane), not the LIF's");
  return LifSettings{static_cast<ResetMode>(reset),
                     v_reset,
                     static_cast<int32_t>(refractory),
                     deferred_reset,
                     detach_reset,
                     track_age,
                     surrogate_arg(surrogate, sg_height, sg_width)};
}

void check_input(const Tensor& x, const char* name) {
  check_time_major(x, name);
  check_kernel_dtype(x, name, /*cuda_double=*/false, /*cpu_16bit=*/true);
}

// Calls f with a null pointer of the CPU kernels' storage type for dtype.
template <class Fn>
void dispatch_cpu_storage(at::ScalarType dtype, Fn&& f) {
  switch (dtype) {
    case at::kFloat: return f(static_cast<float*>(nullptr));
    case at::kDouble: return f(static_cast<double*>(nullptr));
    case at::kHalf: return f(static_cast<Float16*>(nullptr));
    case at::kBFloat16: return f(static_cast<BFloat16*>(nullptr));
    default: TORCH_CHECK(false, "the spikeops LIF CPU kernels do not take ", dtype);
  }
}

void run_forward(const ForwardTensors& t, const LifSettings& cfg, int64_t age_init) {
  if (t.x.is_meta()) return;
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(t.x)) {
    TORCH_CHECK_VALUE(!t.spike_words.defined(), "spike_words: the CUDA LIF kernels write float spikes only; pack "
                      "them with spike_pack");
    return run_forward_cuda(t, cfg, age_init);
  }
#endif
  dispatch_cpu_storage(t.x.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    using Args = LifForwardArgs<S, StateOf<S>>;
    Args a = forward_args<S, StateOf<S>>(t, cfg, age_init);
    a.stream_outputs = t.x.nbytes() >= kStreamOutputBytes;
    run_cpu(CpuKernels<Args>{cpu::lif_forward_scalar, cpu::lif_forward_avx2, cpu::lif_forward_avx512}, a, a.N, cpu::kNeuronBlock,
            a.T);
  });
}

void run_backward(const BackwardTensors& t, const LifSettings& cfg, int64_t age_init) {
  if (t.saved_h.is_meta()) return;
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(t.saved_h)) return run_backward_cuda(t, cfg, age_init);
#endif
  dispatch_cpu_storage(t.saved_h.scalar_type(), [&](auto* tag) {
    using S = std::remove_pointer_t<decltype(tag)>;
    using Args = LifBackwardArgs<S, StateOf<S>>;
    Args a = backward_args<S, StateOf<S>>(t, cfg, age_init);
    a.stream_outputs = t.saved_h.nbytes() >= kStreamOutputBytes;
    run_cpu(CpuKernels<Args>{cpu::lif_backward_scalar, cpu::lif_backward_avx2, cpu::lif_backward_avx512}, a, a.N, cpu::kNeuronBlock,
            a.T);
  });
}

// The words that are to receive the spikes as bits: rows of spike_row neurons (a divisor of the
// neurons per step), ceil(spike_row / 64) int64 words each (include/spikeops/spike_linear.h).
void check_spike_words(const Tensor& x, const Tensor& words, int64_t spike_row) {
  check_dtype(words, at::kLong, "spike_words");
  check_same_device(words, x, "spike_words", "x");
  const int64_t steps = x.size(0), neurons = steps ? x.numel() / steps : 0;
  TORCH_CHECK_VALUE(spike_row >= 1 && (neurons == 0 || neurons % spike_row == 0), "spike_row must divide the ",
                    neurons, " neurons of a step, got ", spike_row);
  const int64_t rows = steps * neurons / spike_row, row_words = (spike_row + 63) / 64;
  TORCH_CHECK_VALUE(words.is_contiguous() && words.dim() == 2 && words.size(0) == rows && words.size(1) == row_words,
                    "spike_words must be a contiguous [", rows, ", ", row_words, "] tensor for rows of spike_row = ",
                    spike_row, " neurons, got shape ", words.sizes());
}

Tensor empty_if(bool need, c10::SymIntArrayRef sizes, const at::TensorOptions& opts) {
  return need ? at::empty_symint(sizes, opts) : at::empty({0}, opts);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lif_forward_impl(
    const Tensor& x_in, const std::optional<Tensor>& v0, const std::optional<Tensor>& r0,
    const std::optional<Tensor>& a0, const Tensor& alpha, const Tensor& gamma, const Tensor& theta,
    int64_t reset, double v_reset, int64_t refractory, bool deferred_reset, bool detach_reset,
    int64_t surrogate, double sg_height, double sg_width, bool track_age, int64_t age_init,
    bool return_ages, bool save_for_backward, int64_t spike_row, const std::optional<Tensor>& spike_words) {
  check_input(x_in, "x");
  const LifSettings cfg = make_config(reset, v_reset, refractory, deferred_reset, detach_reset, surrogate,
                                    sg_height, sg_width, track_age);
  check_int_range(age_init, "age_init", 0, (1 << 24) - 1);
  TORCH_CHECK_VALUE(!return_ages || track_age, "return_ages requires track_age");
  const bool stdb = uses_spike_ages(cfg.surrogate.kind);
  TORCH_CHECK_VALUE(!(stdb && save_for_backward) || track_age, "the stdb surrogate requires track_age");

  ForwardTensors t;
  t.x = x_in.contiguous();
  const auto fdtype = state_dtype(t.x.scalar_type());
  const auto trailing = trailing_shape(t.x);
  t.v0 = state_arg(v0, t.x, fdtype, "v0 (the initial membrane, state.v)");
  t.r0 = state_arg(r0, t.x, at::kInt, "r0 (the initial refractory count, state.refractory)");
  t.a0 = state_arg(a0, t.x, at::kInt, "a0 (the initial spike age, state.age)");
  set_params(t, alpha, gamma, theta, t.x);

  const auto opts = t.x.options();
  const auto int_opts = opts.dtype(at::kInt);
  const auto sizes = t.x.sym_sizes();
  t.spikes = empty_output(sizes, opts);
  t.v_out = at::empty_symint(trailing, opts.dtype(fdtype));
  t.r_out = empty_if(refractory > 0, trailing, int_opts);
  t.a_out = empty_if(track_age, trailing, int_opts);
  t.ages = empty_if(return_ages, sizes, int_opts);
  t.saved_h = save_for_backward ? empty_output(sizes, opts) : at::empty({0}, opts);
  t.saved_age = empty_if(save_for_backward && stdb, sizes, opts.dtype(at::kShort));
  if (spike_words.has_value() && spike_words->defined()) {
    t.spike_words = *spike_words;
    t.spike_row = spike_row;
    check_spike_words(t.x, t.spike_words, spike_row);
    if (!t.x.is_meta()) t.spike_words.zero_();
  }
  run_forward(t, cfg, age_init);
  return {t.spikes, t.v_out, t.r_out, t.a_out, t.ages, t.saved_h, t.saved_age};
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lif_backward_impl(
    const Tensor& grad_spikes, const std::optional<Tensor>& grad_v, const Tensor& saved_h,
    const Tensor& saved_age, const std::optional<Tensor>& x, const std::optional<Tensor>& v0,
    const std::optional<Tensor>& a0, const Tensor& alpha, const Tensor& gamma, const Tensor& theta,
    int64_t reset, double v_reset, int64_t refractory, bool deferred_reset, bool detach_reset,
    int64_t surrogate, double sg_height, double sg_width, int64_t age_init, bool need_grad_v0,
    bool need_grad_alpha, bool need_grad_gamma, bool need_grad_theta) {
  check_input(saved_h, "saved_h");
  const LifSettings cfg = make_config(reset, v_reset, refractory, deferred_reset, detach_reset, surrogate,
                                    sg_height, sg_width, /*track_age=*/false);
  BackwardTensors t;
  t.saved_h = saved_h.contiguous();
  const auto dtype = t.saved_h.scalar_type();
  const auto fdtype = state_dtype(dtype);
  const auto sizes = t.saved_h.sym_sizes();
  TORCH_CHECK_VALUE(grad_spikes.sym_sizes() == sizes, "grad_spikes must have shape ", sizes, ", got ",
                    grad_spikes.sym_sizes());
  check_same_device(grad_spikes, t.saved_h, "grad_spikes", "saved_h");
  t.grad_spikes = grad_spikes.to(dtype).contiguous();
  if (uses_spike_ages(cfg.surrogate.kind)) {
    TORCH_CHECK_VALUE(saved_age.sym_sizes() == sizes, "the stdb surrogate needs saved_age of shape ", sizes,
                      ", got ", saved_age.sym_sizes());
    check_dtype(saved_age, at::kShort, "saved_age");
    check_same_device(saved_age, t.saved_h, "saved_age", "saved_h");
    t.saved_age = saved_age.contiguous();
  }
  t.grad_v = state_arg(grad_v, t.saved_h, fdtype, "grad_v");
  t.v0 = state_arg(v0, t.saved_h, fdtype, "v0");
  t.a0 = state_arg(a0, t.saved_h, at::kInt, "a0");
  if (need_grad_gamma) {
    TORCH_CHECK_VALUE(x.has_value() && x->sym_sizes() == sizes, "the gain gradient needs x of shape ", sizes);
    check_same_device(*x, t.saved_h, "x", "saved_h");
    t.x = x->to(dtype).contiguous();
  }
  set_params(t, alpha, gamma, theta, t.saved_h);

  const auto trailing = trailing_shape(t.saved_h);
  const auto fopts = t.saved_h.options().dtype(fdtype);
  t.grad_x = empty_output(sizes, t.saved_h.options());
  t.grad_v0 = empty_if(need_grad_v0, trailing, fopts);
  t.grad_alpha = empty_if(need_grad_alpha, trailing, fopts);
  t.grad_gamma = empty_if(need_grad_gamma, trailing, fopts);
  t.grad_theta = empty_if(need_grad_theta, trailing, fopts);
  run_backward(t, cfg, age_init);
  return {t.grad_x, t.grad_v0, t.grad_alpha, t.grad_gamma, t.grad_theta};
}

// Variants writing into caller-owned buffers (no allocation of [T, N] outputs),
// for callers that manage memory themselves; no refractory or age tracking.
void check_out(const Tensor& out, const Tensor& like, at::ScalarType dtype, const char* name) {
  check_same_device(out, like, name, "x");
  check_dtype(out, dtype, name);
  TORCH_CHECK_VALUE(out.sym_sizes() == like.sym_sizes() && out.is_contiguous(), name,
                    " must be a contiguous tensor of shape ", like.sym_sizes(), ", got shape ", out.sym_sizes());
}

void lif_forward_out_impl(const Tensor& x, const std::optional<Tensor>& v0, const Tensor& alpha,
                          const Tensor& gamma, const Tensor& theta, int64_t reset, double v_reset,
                          bool deferred_reset, Tensor& spikes, Tensor& v, Tensor& saved_h) {
  check_input(x, "x");
  TORCH_CHECK_VALUE(x.is_contiguous(), "x must be contiguous");
  const LifSettings cfg = make_config(reset, v_reset, 0, deferred_reset, false, 0, 1.0, 1.0, false);
  const auto dtype = x.scalar_type();
  check_out(spikes, x, dtype, "spikes");
  check_out(v, x[0], state_dtype(dtype), "v");
  if (saved_h.sym_numel() != 0) check_out(saved_h, x, dtype, "saved_h");
  // In place: spikes or saved_h over x, v over v0.
  check_outputs_apart({{spikes, "spikes"}, {v, "v"}, {saved_h, "saved_h"}},
                      {{x, "x"}, {or_undefined(v0), "v0"}, {alpha, "decay (alpha)"}, {gamma, "gain (gamma)"},
                       {theta, "threshold (theta)"}},
                      {{0, 0}, {2, 0}, {1, 1}});
  ForwardTensors t;
  t.x = x;
  t.v0 = state_arg(v0, x, state_dtype(dtype), "v0 (the initial membrane)");
  set_params(t, alpha, gamma, theta, x);
  t.spikes = spikes;
  t.v_out = v;
  t.saved_h = saved_h;
  run_forward(t, cfg, 0);
}

void lif_backward_out_impl(const Tensor& grad_spikes, const Tensor& saved_h, const Tensor& alpha,
                           const Tensor& gamma, const Tensor& theta, int64_t reset, double v_reset,
                           bool deferred_reset, bool detach_reset, int64_t surrogate, double sg_height,
                           double sg_width, Tensor& grad_x) {
  check_input(saved_h, "saved_h");
  TORCH_CHECK_VALUE(!uses_spike_ages(static_cast<SurrogateKind>(surrogate)),
                    "surrogate: lif_backward_out has no spike ages, so it does not take the stdb surrogate");
  TORCH_CHECK_VALUE(saved_h.is_contiguous(), "saved_h must be contiguous");
  const LifSettings cfg = make_config(reset, v_reset, 0, deferred_reset, detach_reset, surrogate, sg_height,
                                    sg_width, false);
  check_out(grad_spikes, saved_h, saved_h.scalar_type(), "grad_spikes");
  check_out(grad_x, saved_h, saved_h.scalar_type(), "grad_x");
  check_outputs_apart({{grad_x, "grad_x"}},
                      {{grad_spikes, "grad_spikes"}, {saved_h, "saved_h"}, {alpha, "decay (alpha)"},
                       {gamma, "gain (gamma)"}, {theta, "threshold (theta)"}},
                      {{0, 0}});  // in place: grad_x over grad_spikes
  BackwardTensors t;
  t.grad_spikes = grad_spikes;
  t.saved_h = saved_h;
  set_params(t, alpha, gamma, theta, saved_h);
  t.grad_x = grad_x;
  run_backward(t, cfg, 0);
}

// h (float32 [T, ...]) as float16/bfloat16 on its side of theta (broadcast to h's trailing shape).
Tensor saved_h_16_impl(const Tensor& h_in, const Tensor& theta_in, at::ScalarType dtype) {
  check_dtype(h_in, at::kFloat, "h");
  TORCH_CHECK_VALUE(dtype == at::kHalf || dtype == at::kBFloat16, "dtype must be float16 or bfloat16, got ", dtype);
  TORCH_CHECK_VALUE(h_in.dim() >= 1, "h must be [T, ...], got shape ", h_in.sizes());
  TORCH_CHECK_VALUE(h_in.device().is_cpu() || h_in.is_meta(), "h is on ", h_in.device(),
                    "; saved_h_16 has a CPU kernel only");
  Tensor out = at::empty(h_in.sizes(), h_in.options().dtype(dtype));
  if (h_in.is_meta() || h_in.numel() == 0) return out;
  const auto trailing = h_in.sizes().slice(1);
  TORCH_CHECK_VALUE(at::is_expandable_to(theta_in.sizes(), trailing), "theta of shape ", theta_in.sizes(),
                    " does not broadcast to h's per-step shape ", trailing);
  const Tensor h = h_in.contiguous();
  const Tensor theta = theta_in.to(at::kFloat).expand(trailing).contiguous();
  SavedH16Args a{h.data_ptr<float>(), theta.data_ptr<float>(), theta.numel(),
                 reinterpret_cast<uint16_t*>(out.data_ptr()), dtype == at::kBFloat16};
  run_cpu(CpuKernels<SavedH16Args>{cpu::saved_h_16_scalar, cpu::saved_h_16_avx2, cpu::saved_h_16_avx512}, a,
          h.size(0), 1, a.N);
  return out;
}

}  // namespace

SPIKEOPS_LIBRARY(SPIKEOPS_OPS, m) {
  m.def(
      "lif_forward(Tensor x, Tensor? v0, Tensor? r0, Tensor? a0, Tensor alpha, Tensor gamma, Tensor theta, "
      "int reset, float v_reset, int refractory, bool deferred_reset, bool detach_reset, int surrogate, "
      "float sg_height, float sg_width, bool track_age, int age_init, bool return_ages, "
      "bool save_for_backward, int spike_row=0, Tensor(a!)? spike_words=None) -> (Tensor spikes, Tensor v, "
      "Tensor r, Tensor age, Tensor ages, Tensor saved_h, Tensor saved_age)");
  m.def(
      "lif_backward(Tensor grad_spikes, Tensor? grad_v, Tensor saved_h, Tensor saved_age, Tensor? x, "
      "Tensor? v0, Tensor? a0, Tensor alpha, Tensor gamma, Tensor theta, int reset, float v_reset, "
      "int refractory, bool deferred_reset, bool detach_reset, int surrogate, float sg_height, "
      "float sg_width, int age_init, bool need_grad_v0, bool need_grad_alpha, bool need_grad_gamma, "
      "bool need_grad_theta) -> (Tensor grad_x, Tensor grad_v0, Tensor grad_alpha, Tensor grad_gamma, "
      "Tensor grad_theta)");
  m.def(
      "lif_forward_out(Tensor x, Tensor? v0, Tensor alpha, Tensor gamma, Tensor theta, int reset, float v_reset, "
      "bool deferred_reset, Tensor(a!) spikes, Tensor(b!) v, Tensor(c!) saved_h) -> ()");
  m.def(
      "lif_backward_out(Tensor grad_spikes, Tensor saved_h, Tensor alpha, Tensor gamma, Tensor theta, int reset, "
      "float v_reset, bool deferred_reset, bool detach_reset, int surrogate, float sg_height, float sg_width, "
      "Tensor(a!) grad_x) -> ()");
  m.def("saved_h_16(Tensor h, Tensor theta, ScalarType dtype) -> Tensor");
}

void register_lif_impls(torch::Library& m) {
  m.impl("lif_forward", &lif_forward_impl);
  m.impl("lif_backward", &lif_backward_impl);
  m.impl("lif_forward_out", &lif_forward_out_impl);
  m.impl("lif_backward_out", &lif_backward_out_impl);
  m.impl("saved_h_16", &saved_h_16_impl);
}

SPIKEOPS_IMPL_EVERY_KEY(register_lif_impls)

}  // namespace spikeops
