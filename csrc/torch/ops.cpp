// Torch glue for the LIF ops: schemas, argument checks, allocation and the
// choice of kernel. No neuron math lives here.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/ExpandUtils.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <stdexcept>
#include <string>

#include "spikeops/cpu.h"

namespace spikeops {
namespace {

using at::Tensor;

constexpr int64_t kMinWorkPerTask = 1 << 16;  // neuron-steps below which threads do not pay off
// Outputs larger than this are written with streaming stores: they would not
// stay in cache anyway (a share of a server's last-level cache).
constexpr int64_t kStreamOutputBytes = 8 << 20;

// A fresh [T, N] output. Large ones are marked for transparent huge pages before
// their first touch: on first write each 2 MiB page then costs one fault instead
// of 512, which is most of the price of a fresh output (see bench/NOTES.md).
Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& opts) {
  Tensor t = at::empty(sizes, opts);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = 2u << 20;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t end = begin + t.nbytes();
  const uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (t.device().is_cpu() && last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
  return t;
}

std::vector<int64_t> trailing_shape(const Tensor& x) { return x.sizes().slice(1).vec(); }

void check_device(const Tensor& t, const Tensor& x, const char* name) {
  TORCH_CHECK(t.device() == x.device(), name, " is on ", t.device(), " but x is on ", x.device(),
              "; all tensors must be on the same device");
}

// An optional per-neuron tensor, made contiguous with the trailing shape and dtype.
Tensor state_arg(const std::optional<Tensor>& t, const Tensor& x, at::ScalarType dtype, const char* name) {
  if (!t.has_value() || !t->defined()) return Tensor();
  check_device(*t, x, name);
  TORCH_CHECK(t->sizes() == x.sizes().slice(1), name, " must have shape ", x.sizes().slice(1),
              " (x's shape without T), got ", t->sizes());
  if (dtype == at::kInt) {
    TORCH_CHECK(t->scalar_type() == at::kInt, name, " must be int32, got ", t->scalar_type());
  } else {
    TORCH_CHECK(at::isFloatingType(t->scalar_type()), name, " must be floating point, got ", t->scalar_type());
  }
  return t->to(dtype).contiguous();
}

// A parameter: one value (numel 1) or a tensor broadcastable to the trailing shape.
template <class S>
ParamRef<S> param_arg(const Tensor& p, const Tensor& x, const char* name, Tensor& storage) {
  check_device(p, x, name);
  TORCH_CHECK(at::isFloatingType(p.scalar_type()), name, " must be a floating point tensor, got ",
              p.scalar_type());
  if (p.numel() == 1) return {nullptr, static_cast<S>(p.item<double>())};
  const auto trailing = x.sizes().slice(1);
  TORCH_CHECK(at::is_expandable_to(p.sizes(), trailing), name, " of shape ", p.sizes(),
              " cannot be broadcast to the neuron shape ", trailing);
  storage = p.to(x.scalar_type()).expand(trailing).contiguous();
  return {storage.data_ptr<S>(), S(0)};
}

void check_param_range(const Tensor& p, const char* name, double lo, bool lo_open, double hi) {
  if (p.device().is_cpu() || p.numel() == 1) {
    const double mn = p.min().item<double>(), mx = p.max().item<double>();
    const bool lo_ok = lo_open ? mn > lo : mn >= lo;
    TORCH_CHECK(lo_ok && mx <= hi && !std::isnan(mn) && !std::isnan(mx), name, " must lie in ",
                lo_open ? "(" : "[", lo, ", ", hi, "], got values in [", mn, ", ", mx, "]");
  }
}

LifConfig make_config(int64_t reset, double v_reset, int64_t refractory, bool deferred_reset,
                      bool detach_reset, int64_t surrogate, double sg_height, double sg_width,
                      bool track_age) {
  TORCH_CHECK(reset >= 0 && reset < kNumResetModes, "reset must be 0 (subtract), 1 (zero) or 2 (none), got ",
              reset);
  TORCH_CHECK(surrogate >= 0 && surrogate < kNumSurrogates, "surrogate must be in [0, ", kNumSurrogates,
              "), got ", surrogate);
  TORCH_CHECK(refractory >= 0 && refractory < (1 << 24), "refractory must be in [0, 2^24), got ", refractory);
  TORCH_CHECK(!(deferred_reset && refractory > 0), "refractory steps are not supported with deferred_reset");
  TORCH_CHECK(std::isfinite(v_reset), "v_reset must be finite, got ", v_reset);
  TORCH_CHECK(std::isfinite(sg_height) && std::isfinite(sg_width), "surrogate height and width must be finite");
  return LifConfig{static_cast<ResetMode>(reset),
                   static_cast<float>(v_reset),
                   static_cast<int32_t>(refractory),
                   deferred_reset,
                   detach_reset,
                   track_age,
                   make_surrogate(static_cast<int32_t>(surrogate), static_cast<float>(sg_height),
                                  static_cast<float>(sg_width))};
}

void check_input(const Tensor& x, const char* name) {
  TORCH_CHECK(x.dim() >= 1, name, " must have a leading time dimension [T, ...], got a 0-d tensor");
  TORCH_CHECK(x.size(0) >= 1, name, " must have at least one time step (T >= 1), got T = 0");
  TORCH_CHECK(x.device().is_cpu(), name, " is on ", x.device(),
              "; this build of spikeops has kernels for CPU tensors only");
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, name,
              " must be float32 or float64 on CPU, got ", x.scalar_type());
}

template <class Args>
void run_parallel(const Args& a, void (*kernel)(const Args&, int64_t, int64_t)) {
  const int64_t blocks = (a.N + cpu::kNeuronBlock - 1) / cpu::kNeuronBlock;
  const int64_t grain = std::max<int64_t>(1, kMinWorkPerTask / (std::max<int64_t>(a.T, 1) * cpu::kNeuronBlock));
  at::parallel_for(0, blocks, grain, [&](int64_t b, int64_t e) {
    kernel(a, b * cpu::kNeuronBlock, std::min(e * cpu::kNeuronBlock, a.N));
  });
}

cpu::Isa current_isa() {
  try {
    return cpu::selected_isa();
  } catch (const std::runtime_error& e) {
    TORCH_CHECK(false, e.what());
  }
}

// float64 always runs the scalar kernel; float32 the ISA chosen at run time.
template <class Args>
using Kernel = void (*)(const Args&, int64_t, int64_t);

template <class S>
Kernel<LifForwardArgs<S>> forward_kernel() {
  if constexpr (std::is_same_v<S, float>) {
    switch (current_isa()) {
      case cpu::Isa::AVX512: return cpu::lif_forward_avx512;
      case cpu::Isa::AVX2: return cpu::lif_forward_avx2;
      case cpu::Isa::Scalar: break;
    }
  }
  return cpu::lif_forward_scalar;
}

template <class S>
Kernel<LifBackwardArgs<S>> backward_kernel() {
  if constexpr (std::is_same_v<S, float>) {
    switch (current_isa()) {
      case cpu::Isa::AVX512: return cpu::lif_backward_avx512;
      case cpu::Isa::AVX2: return cpu::lif_backward_avx2;
      case cpu::Isa::Scalar: break;
    }
  }
  return cpu::lif_backward_scalar;
}

// The data of an optional tensor (undefined or empty: absent) as the kernel's pointer type.
template <class T>
T* data_or_null(const Tensor& t) {
  return (t.defined() && t.numel() > 0) ? static_cast<T*>(t.data_ptr()) : nullptr;
}

// Launches the forward kernel. Optional outputs (r_out, a_out, ages, saved_h,
// saved_age) are written when they have elements.
void run_forward(const Tensor& x, const Tensor& v0, const Tensor& r0, const Tensor& a0, const Tensor& alpha,
                 const Tensor& gamma, const Tensor& theta, const LifConfig& cfg, int64_t age_init, Tensor& spikes,
                 Tensor& v_out, Tensor& r_out, Tensor& a_out, Tensor& ages, Tensor& saved_h, Tensor& saved_age) {
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_forward", [&] {
    using S = scalar_t;
    Tensor pa, pg, pt;
    LifForwardArgs<S> a{};
    a.T = x.size(0);
    a.N = x.numel() / a.T;
    a.x = x.data_ptr<S>();
    a.spikes = spikes.data_ptr<S>();
    a.saved_h = data_or_null<S>(saved_h);
    a.saved_age = data_or_null<uint16_t>(saved_age);
    a.ages = data_or_null<int32_t>(ages);
    a.v0 = data_or_null<S>(v0);
    a.r0 = cfg.refractory > 0 ? data_or_null<int32_t>(r0) : nullptr;
    a.a0 = cfg.track_age ? data_or_null<int32_t>(a0) : nullptr;
    a.v_out = v_out.data_ptr<S>();
    a.r_out = data_or_null<int32_t>(r_out);
    a.a_out = data_or_null<int32_t>(a_out);
    a.alpha = param_arg<S>(alpha, x, "decay (alpha)", pa);
    a.gamma = param_arg<S>(gamma, x, "gain (gamma)", pg);
    a.theta = param_arg<S>(theta, x, "threshold", pt);
    a.age_init = static_cast<int32_t>(age_init);
    a.cfg = cfg;
    a.stream_outputs = x.numel() * static_cast<int64_t>(sizeof(S)) >= kStreamOutputBytes;
    if (a.N > 0) run_parallel(a, forward_kernel<S>());
  });
}

// Launches the backward kernel. x, v0, a0, saved_age and the per-neuron
// gradients are used when defined and non-empty.
void run_backward(const Tensor& grad_spikes, const Tensor& grad_v, const Tensor& saved_h, const Tensor& saved_age,
                  const Tensor& x, const Tensor& v0, const Tensor& a0, const Tensor& alpha, const Tensor& gamma,
                  const Tensor& theta, const LifConfig& cfg, int64_t age_init, Tensor& grad_x, Tensor& grad_v0,
                  Tensor& grad_alpha, Tensor& grad_gamma, Tensor& grad_theta) {
  AT_DISPATCH_FLOATING_TYPES(saved_h.scalar_type(), "lif_backward", [&] {
    using S = scalar_t;
    Tensor pa, pg, pt;
    LifBackwardArgs<S> a{};
    a.T = saved_h.size(0);
    a.N = saved_h.numel() / a.T;
    a.grad_spikes = grad_spikes.data_ptr<S>();
    a.grad_v = data_or_null<S>(grad_v);
    a.saved_h = saved_h.data_ptr<S>();
    a.saved_age = data_or_null<uint16_t>(saved_age);
    a.x = data_or_null<S>(x);
    a.v0 = data_or_null<S>(v0);
    a.a0 = data_or_null<int32_t>(a0);
    a.grad_x = grad_x.data_ptr<S>();
    a.grad_v0 = data_or_null<S>(grad_v0);
    a.grad_alpha = data_or_null<S>(grad_alpha);
    a.grad_gamma = data_or_null<S>(grad_gamma);
    a.grad_theta = data_or_null<S>(grad_theta);
    a.alpha = param_arg<S>(alpha, saved_h, "decay (alpha)", pa);
    a.gamma = param_arg<S>(gamma, saved_h, "gain (gamma)", pg);
    a.theta = param_arg<S>(theta, saved_h, "threshold", pt);
    a.age_init = static_cast<int32_t>(age_init);
    a.cfg = cfg;
    a.stream_outputs = saved_h.numel() * static_cast<int64_t>(sizeof(S)) >= kStreamOutputBytes;
    if (a.N > 0) run_parallel(a, backward_kernel<S>());
  });
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> lif_forward_cpu(
    const Tensor& x_in, const std::optional<Tensor>& v0_in, const std::optional<Tensor>& r0_in,
    const std::optional<Tensor>& a0_in, const Tensor& alpha, const Tensor& gamma, const Tensor& theta,
    int64_t reset, double v_reset, int64_t refractory, bool deferred_reset, bool detach_reset,
    int64_t surrogate, double sg_height, double sg_width, bool track_age, int64_t age_init,
    bool return_ages, bool save_for_backward) {
  check_input(x_in, "x");
  const LifConfig cfg = make_config(reset, v_reset, refractory, deferred_reset, detach_reset, surrogate,
                                    sg_height, sg_width, track_age);
  TORCH_CHECK(age_init >= 0 && age_init < (1 << 24), "age_init must be in [0, 2^24), got ", age_init);
  TORCH_CHECK(!return_ages || track_age, "return_ages requires track_age");
  const bool stdb = cfg.surrogate.kind == SurrogateKind::STDB;
  TORCH_CHECK(!(stdb && save_for_backward) || track_age, "the stdb surrogate requires track_age");
  check_param_range(alpha, "decay (alpha)", 0.0, false, 1.0);
  check_param_range(theta, "threshold", 0.0, true, INFINITY);
  check_param_range(gamma, "gain (gamma)", -INFINITY, false, INFINITY);

  const Tensor x = x_in.contiguous();
  const auto dtype = x.scalar_type();
  const auto trailing = trailing_shape(x);
  const Tensor v0 = state_arg(v0_in, x, dtype, "v0 (initial membrane)");
  const Tensor r0 = state_arg(r0_in, x, at::kInt, "r0 (initial refractory count)");
  const Tensor a0 = state_arg(a0_in, x, at::kInt, "a0 (initial spike age)");

  const auto opts = x.options();
  const auto int_opts = opts.dtype(at::kInt);
  Tensor spikes = empty_output(x.sizes(), opts);
  Tensor v_out = at::empty(trailing, opts);
  Tensor r_out = refractory > 0 ? at::empty(trailing, int_opts) : at::empty({0}, int_opts);
  Tensor a_out = track_age ? at::empty(trailing, int_opts) : at::empty({0}, int_opts);
  Tensor ages = return_ages ? at::empty(x.sizes(), int_opts) : at::empty({0}, int_opts);
  Tensor saved_h = save_for_backward ? empty_output(x.sizes(), opts) : at::empty({0}, opts);
  Tensor saved_age = (save_for_backward && stdb) ? at::empty(x.sizes(), opts.dtype(at::kShort))
                                                 : at::empty({0}, opts.dtype(at::kShort));

  run_forward(x, v0, r0, a0, alpha, gamma, theta, cfg, age_init, spikes, v_out, r_out, a_out, ages, saved_h,
              saved_age);
  return {spikes, v_out, r_out, a_out, ages, saved_h, saved_age};
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> lif_backward_cpu(
    const Tensor& grad_spikes_in, const std::optional<Tensor>& grad_v_in, const Tensor& saved_h_in,
    const Tensor& saved_age_in, const std::optional<Tensor>& x_in, const std::optional<Tensor>& v0_in,
    const std::optional<Tensor>& a0_in, const Tensor& alpha, const Tensor& gamma, const Tensor& theta,
    int64_t reset, double v_reset, int64_t refractory, bool deferred_reset, bool detach_reset,
    int64_t surrogate, double sg_height, double sg_width, int64_t age_init, bool need_grad_v0,
    bool need_grad_alpha, bool need_grad_gamma, bool need_grad_theta) {
  check_input(saved_h_in, "saved_h");
  const LifConfig cfg = make_config(reset, v_reset, refractory, deferred_reset, detach_reset, surrogate,
                                    sg_height, sg_width, /*track_age=*/false);
  const Tensor saved_h = saved_h_in.contiguous();
  const auto dtype = saved_h.scalar_type();
  TORCH_CHECK(grad_spikes_in.sizes() == saved_h.sizes(), "grad_spikes must have shape ", saved_h.sizes(),
              ", got ", grad_spikes_in.sizes());
  check_device(grad_spikes_in, saved_h, "grad_spikes");
  const Tensor grad_spikes = grad_spikes_in.to(dtype).contiguous();
  const bool stdb = cfg.surrogate.kind == SurrogateKind::STDB;
  TORCH_CHECK(!stdb || saved_age_in.sizes() == saved_h.sizes(), "the stdb surrogate needs saved_age of shape ",
              saved_h.sizes());
  const Tensor saved_age = stdb ? saved_age_in.contiguous() : Tensor();
  const Tensor grad_v = state_arg(grad_v_in, saved_h, dtype, "grad_v");
  const Tensor v0 = state_arg(v0_in, saved_h, dtype, "v0");
  const Tensor a0 = state_arg(a0_in, saved_h, at::kInt, "a0");
  Tensor x;
  if (need_grad_gamma) {
    TORCH_CHECK(x_in.has_value() && x_in->sizes() == saved_h.sizes(), "the gain gradient needs x of shape ",
                saved_h.sizes());
    x = x_in->to(dtype).contiguous();
  }
  const auto trailing = trailing_shape(saved_h);
  const auto opts = saved_h.options();
  Tensor grad_x = empty_output(saved_h.sizes(), opts);
  auto per_neuron = [&](bool need) { return need ? at::empty(trailing, opts) : at::empty({0}, opts); };
  Tensor grad_v0 = per_neuron(need_grad_v0), grad_alpha = per_neuron(need_grad_alpha),
         grad_gamma = per_neuron(need_grad_gamma), grad_theta = per_neuron(need_grad_theta);

  run_backward(grad_spikes, grad_v, saved_h, saved_age, x, v0, a0, alpha, gamma, theta, cfg, age_init, grad_x,
               grad_v0, grad_alpha, grad_gamma, grad_theta);
  return {grad_x, grad_v0, grad_alpha, grad_gamma, grad_theta};
}

// Variants writing into caller-owned buffers (no allocation of [T, N] outputs),
// for callers that manage memory themselves; no refractory or age tracking.
void check_out(const Tensor& out, const Tensor& like, const char* name) {
  check_device(out, like, name);
  TORCH_CHECK(out.sizes() == like.sizes() && out.scalar_type() == like.scalar_type() && out.is_contiguous(), name,
              " must be a contiguous ", like.scalar_type(), " tensor of shape ", like.sizes());
}

void lif_forward_out_cpu(const Tensor& x, const std::optional<Tensor>& v0_in, const Tensor& alpha,
                         const Tensor& gamma, const Tensor& theta, int64_t reset, double v_reset,
                         bool deferred_reset, Tensor& spikes, Tensor& v, Tensor& saved_h) {
  check_input(x, "x");
  TORCH_CHECK(x.is_contiguous(), "x must be contiguous");
  const LifConfig cfg = make_config(reset, v_reset, 0, deferred_reset, false, 0, 1.0, 1.0, false);
  check_out(spikes, x, "spikes");
  check_out(v, x[0], "v");
  if (saved_h.numel()) check_out(saved_h, x, "saved_h");
  const Tensor v0 = state_arg(v0_in, x, x.scalar_type(), "v0 (initial membrane)");
  Tensor none = at::empty({0}, x.options().dtype(at::kInt)), none2 = none, none3 = none, none4 = none;
  run_forward(x, v0, Tensor(), Tensor(), alpha, gamma, theta, cfg, 0, spikes, v, none, none2, none3, saved_h,
              none4);
}

void lif_backward_out_cpu(const Tensor& grad_spikes, const Tensor& saved_h, const Tensor& alpha,
                          const Tensor& gamma, const Tensor& theta, int64_t reset, double v_reset,
                          bool deferred_reset, bool detach_reset, int64_t surrogate, double sg_height,
                          double sg_width, Tensor& grad_x) {
  check_input(saved_h, "saved_h");
  TORCH_CHECK(surrogate != static_cast<int64_t>(SurrogateKind::STDB), "lif_backward_out does not support stdb");
  const LifConfig cfg = make_config(reset, v_reset, 0, deferred_reset, detach_reset, surrogate, sg_height,
                                    sg_width, false);
  check_out(grad_spikes, saved_h, "grad_spikes");
  check_out(grad_x, saved_h, "grad_x");
  TORCH_CHECK(saved_h.is_contiguous(), "saved_h must be contiguous");
  Tensor none;
  run_backward(grad_spikes, none, saved_h, none, none, none, none, alpha, gamma, theta, cfg, 0, grad_x, none, none,
               none, none);
}

}  // namespace

TORCH_LIBRARY(spikeops, m) {
  m.def(
      "lif_forward(Tensor x, Tensor? v0, Tensor? r0, Tensor? a0, Tensor alpha, Tensor gamma, Tensor theta, "
      "int reset, float v_reset, int refractory, bool deferred_reset, bool detach_reset, int surrogate, "
      "float sg_height, float sg_width, bool track_age, int age_init, bool return_ages, "
      "bool save_for_backward) -> (Tensor spikes, Tensor v, Tensor r, Tensor age, Tensor ages, "
      "Tensor saved_h, Tensor saved_age)");
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
}

TORCH_LIBRARY_IMPL(spikeops, CPU, m) {
  m.impl("lif_forward", &lif_forward_cpu);
  m.impl("lif_backward", &lif_backward_cpu);
  m.impl("lif_forward_out", &lif_forward_out_cpu);
  m.impl("lif_backward_out", &lif_backward_out_cpu);
}

}  // namespace spikeops
