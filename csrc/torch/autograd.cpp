// The ops' autograd formulas (docs/math.md §2, §3, §6), registered in C++ for
// the Autograd dispatch key: a differentiable call costs one graph node and the
// backward op, with no Python on either path.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/util/ParallelGuard.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/functions/basic_ops.h>
#include <torch/library.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "op_library.h"

namespace spikeops {
namespace {

using at::Tensor;
using std::optional;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#define SPIKEOPS_STRINGIFY_(x) #x
#define SPIKEOPS_STRINGIFY(x) SPIKEOPS_STRINGIFY_(x)

// The op `name` of this library, typed by its C++ signature Fn.
template <class Fn>
c10::TypedOperatorHandle<Fn> find_op(const char* name) {
  return c10::Dispatcher::singleton()
      .findSchemaOrThrow((std::string(SPIKEOPS_STRINGIFY(SPIKEOPS_OPS) "::") + name).c_str(), "")
      .template typed<Fn>();
}

bool any_requires_grad(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

// A parameter's gradient, summed from per-neuron partials to its own (broadcast)
// shape. On CPU the sum runs as on one thread whatever the thread count (inside
// a ParallelGuard ATen's reductions do not split), so the order of additions, and
// with it every bit of the result, depends on the shapes only.
Tensor reduce_to(const Tensor& grad, const Tensor& param) {
  c10::ParallelGuard serial(true);
  if (param.sym_numel() == 1) return grad.sum().reshape_symint(param.sym_sizes()).to(param.scalar_type());
  return grad.sum_to_size_symint(param.sym_sizes()).to(param.scalar_type());
}

// The backward formulas are not themselves differentiable. Under create_graph the
// gradients they return get a node that raises `what` if it is ever differentiated,
// instead of silently standing for a constant.
variable_list once_differentiable(variable_list grads, const char* what) {
  if (!at::GradMode::is_enabled()) return grads;
  for (Tensor& g : grads)
    if (g.defined()) g = g.detach().requires_grad_(true);
  return torch::autograd::DelayedError(std::string(what) + " does not support double backward (a gradient of its "
                                       "gradient)", static_cast<int64_t>(grads.size()))
      .apply(std::move(grads));
}

// -- LIF ---------------------------------------------------------------------

using LifForwardOutputs = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>;
using LifForwardFn = LifForwardOutputs(const Tensor&, const optional<Tensor>&, const optional<Tensor>&,
                                       const optional<Tensor>&, const Tensor&, const Tensor&, const Tensor&,
                                       int64_t, double, int64_t, bool, bool, int64_t, double, double, bool,
                                       int64_t, bool, bool, int64_t, const optional<Tensor>&);
using LifBackwardFn = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor>(
    const Tensor&, const optional<Tensor>&, const Tensor&, const Tensor&, const optional<Tensor>&,
    const optional<Tensor>&, const optional<Tensor>&, const Tensor&, const Tensor&, const Tensor&, int64_t,
    double, int64_t, bool, bool, int64_t, double, double, int64_t, bool, bool, bool, bool);

const c10::TypedOperatorHandle<LifForwardFn>& lif_forward_op() {
  static const auto op = find_op<LifForwardFn>("lif_forward");
  return op;
}

constexpr int kLifInputs = 21;

struct LifFunction : torch::autograd::Function<LifFunction> {
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const optional<Tensor>& v0,
                               const optional<Tensor>& r0, const optional<Tensor>& a0, const Tensor& alpha,
                               const Tensor& gamma, const Tensor& theta, int64_t reset, double v_reset,
                               int64_t refractory, bool deferred_reset, bool detach_reset, int64_t surrogate,
                               double sg_height, double sg_width, bool track_age, int64_t age_init,
                               bool return_ages, bool save_for_backward, int64_t spike_row,
                               const optional<Tensor>& spike_words) {
    const auto& op = lif_forward_op();
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [spikes, v, r, a, ages, saved_h, saved_age] =
        op.call(x, v0, r0, a0, alpha, gamma, theta, reset, v_reset, refractory, deferred_reset, detach_reset,
                surrogate, sg_height, sg_width, track_age, age_init, return_ages, save_for_backward, spike_row,
                spike_words);
    ctx->mark_non_differentiable({r, a, ages, saved_h, saved_age});
    ctx->set_materialize_grads(false);
    // Graph edges exist for the defined tensor arguments only, in argument order.
    int64_t edge = 1;
    const auto next_edge = [&](const optional<Tensor>& t) { return (t.has_value() && t->defined()) ? edge++ : -1; };
    ctx->saved_data["v0_edge"] = next_edge(v0);
    next_edge(r0);
    next_edge(a0);
    ctx->saved_data["alpha_edge"] = edge;
    const Tensor x_for_gain = gamma.requires_grad() ? x : Tensor();
    ctx->save_for_backward({saved_h, saved_age, x_for_gain, or_undefined(v0), or_undefined(a0), alpha, gamma, theta});
    ctx->saved_data["reset"] = reset;
    ctx->saved_data["v_reset"] = v_reset;
    ctx->saved_data["refractory"] = refractory;
    ctx->saved_data["deferred_reset"] = deferred_reset;
    ctx->saved_data["detach_reset"] = detach_reset;
    ctx->saved_data["surrogate"] = surrogate;
    ctx->saved_data["sg_height"] = sg_height;
    ctx->saved_data["sg_width"] = sg_width;
    ctx->saved_data["age_init"] = age_init;
    ctx->saved_data["saved"] = save_for_backward;
    return {spikes, v, r, a, ages, saved_h, saved_age};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op = find_op<LifBackwardFn>("lif_backward");
    auto& data = ctx->saved_data;
    TORCH_CHECK(data["saved"].toBool(),
                "spikeops.lif_forward was called with save_for_backward=False, so it cannot be differentiated; "
                "call it with save_for_backward=True (spikeops.functional.lif does this whenever a gradient is "
                "needed)");
    variable_list out(kLifInputs);
    const Tensor& grad_spikes = grads[0];
    const Tensor& grad_v = grads[1];
    if (!grad_spikes.defined() && !grad_v.defined()) return out;
    const auto saved = ctx->get_saved_variables();
    const Tensor &saved_h = saved[0], &saved_age = saved[1], &x = saved[2], &v0 = saved[3], &a0 = saved[4],
                 &alpha = saved[5], &gamma = saved[6], &theta = saved[7];
    const int64_t v0_edge = data["v0_edge"].toInt(), alpha_edge = data["alpha_edge"].toInt();
    const bool need_x = ctx->needs_input_grad(0);
    const bool need_v0 = v0_edge >= 0 && ctx->needs_input_grad(v0_edge);
    const bool need_alpha = ctx->needs_input_grad(alpha_edge);
    const bool need_gamma = ctx->needs_input_grad(alpha_edge + 1);
    const bool need_theta = ctx->needs_input_grad(alpha_edge + 2);
    {
      at::NoGradGuard no_grad;
      auto [g_x, g_v0, g_alpha, g_gamma, g_theta] =
          op.call(grad_spikes.defined() ? grad_spikes : at::zeros_like(saved_h), grad_v, saved_h, saved_age, x, v0,
                  a0, alpha, gamma, theta, data["reset"].toInt(), data["v_reset"].toDouble(),
                  data["refractory"].toInt(), data["deferred_reset"].toBool(), data["detach_reset"].toBool(),
                  data["surrogate"].toInt(), data["sg_height"].toDouble(), data["sg_width"].toDouble(),
                  data["age_init"].toInt(), need_v0, need_alpha, need_gamma, need_theta);
      if (need_x) out[0] = g_x;
      if (need_v0) out[1] = g_v0;
      if (need_alpha) out[4] = reduce_to(g_alpha, alpha);
      if (need_gamma) out[5] = reduce_to(g_gamma, gamma);
      if (need_theta) out[6] = reduce_to(g_theta, theta);
    }
    return once_differentiable(std::move(out), "spikeops.lif");
  }
};

LifForwardOutputs lif_forward_autograd(const Tensor& x, const optional<Tensor>& v0, const optional<Tensor>& r0,
                                       const optional<Tensor>& a0, const Tensor& alpha, const Tensor& gamma,
                                       const Tensor& theta, int64_t reset, double v_reset, int64_t refractory,
                                       bool deferred_reset, bool detach_reset, int64_t surrogate, double sg_height,
                                       double sg_width, bool track_age, int64_t age_init, bool return_ages,
                                       bool save_for_backward, int64_t spike_row,
                                       const optional<Tensor>& spike_words) {
  const bool differentiable = at::GradMode::is_enabled() &&
                              any_requires_grad({&x, &or_undefined(v0), &alpha, &gamma, &theta});
  if (!differentiable) {
    const auto& op = lif_forward_op();
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return op.call(x, v0, r0, a0, alpha, gamma, theta, reset, v_reset, refractory, deferred_reset, detach_reset,
                   surrogate, sg_height, sg_width, track_age, age_init, return_ages, save_for_backward, spike_row,
                   spike_words);
  }
  auto o = LifFunction::apply(x, v0, r0, a0, alpha, gamma, theta, reset, v_reset, refractory, deferred_reset,
                              detach_reset, surrogate, sg_height, sg_width, track_age, age_init, return_ages,
                              save_for_backward, spike_row, spike_words);
  return {o[0], o[1], o[2], o[3], o[4], o[5], o[6]};
}

// -- soft-LIF ----------------------------------------------------------------

using SoftLifFn = Tensor(const Tensor&, double, double, double, double, double);
using SoftLifBackwardFn = Tensor(const Tensor&, const Tensor&, double, double, double, double, double);

const c10::TypedOperatorHandle<SoftLifFn>& soft_lif_op() {
  static const auto op = find_op<SoftLifFn>("soft_lif");
  return op;
}

struct SoftLifFunction : torch::autograd::Function<SoftLifFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double tau_rc, double tau_ref, double smoothing,
                        double gain, double amplitude) {
    const auto& op = soft_lif_op();
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({x});
    ctx->saved_data["constants"] = std::vector<double>{tau_rc, tau_ref, smoothing, gain, amplitude};
    return op.call(x, tau_rc, tau_ref, smoothing, gain, amplitude);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op = find_op<SoftLifBackwardFn>("soft_lif_backward");
    const auto c = ctx->saved_data["constants"].toDoubleVector();
    variable_list out(6);
    {
      at::NoGradGuard no_grad;
      out[0] = op.call(grads[0], ctx->get_saved_variables()[0], c[0], c[1], c[2], c[3], c[4]);
    }
    return once_differentiable(std::move(out), "spikeops.soft_lif");
  }
};

Tensor soft_lif_autograd(const Tensor& x, double tau_rc, double tau_ref, double smoothing, double gain,
                         double amplitude) {
  if (!(at::GradMode::is_enabled() && x.requires_grad())) {
    const auto& op = soft_lif_op();
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return op.call(x, tau_rc, tau_ref, smoothing, gain, amplitude);
  }
  return SoftLifFunction::apply(x, tau_rc, tau_ref, smoothing, gain, amplitude);
}

// -- FS neuron ---------------------------------------------------------------

using FsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, double,
                                        double, bool);
using FsBackwardFn = std::tuple<Tensor, Tensor, Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                                                const Tensor&, const Tensor&, int64_t, double,
                                                                double, bool);

const c10::TypedOperatorHandle<FsFn>& fs_neuron_op() {
  static const auto op = find_op<FsFn>("fs_neuron");
  return op;
}

struct FsFunction : torch::autograd::Function<FsFunction> {
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& h, const Tensor& d,
                               const Tensor& threshold, int64_t surrogate, double sg_height, double sg_width,
                               bool count_spikes) {
    const auto& op = fs_neuron_op();
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [out, spikes] = op.call(x, h, d, threshold, surrogate, sg_height, sg_width, count_spikes);
    ctx->mark_non_differentiable({spikes});
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({x, h, d, threshold});
    ctx->saved_data["surrogate"] = surrogate;
    ctx->saved_data["sg_height"] = sg_height;
    ctx->saved_data["sg_width"] = sg_width;
    return {out, spikes};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op = find_op<FsBackwardFn>("fs_neuron_backward");
    variable_list out(8);
    if (!grads[0].defined()) return out;
    const auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &h = saved[1], &d = saved[2], &threshold = saved[3];
    bool need[4];
    for (int i = 0; i < 4; ++i) need[i] = ctx->needs_input_grad(i);
    auto& data = ctx->saved_data;
    {
      at::NoGradGuard no_grad;
      auto [g_x, g_h, g_d, g_t] = op.call(grads[0], x, h, d, threshold, data["surrogate"].toInt(),
                                          data["sg_height"].toDouble(), data["sg_width"].toDouble(),
                                          need[1] || need[2] || need[3]);
      if (need[0]) out[0] = g_x;
      if (need[1]) out[1] = g_h.to(h.scalar_type());
      if (need[2]) out[2] = g_d.to(d.scalar_type());
      if (need[3]) out[3] = g_t.to(threshold.scalar_type());
    }
    return once_differentiable(std::move(out), "spikeops.fs_neuron");
  }
};

std::tuple<Tensor, Tensor> fs_neuron_autograd(const Tensor& x, const Tensor& h, const Tensor& d,
                                              const Tensor& threshold, int64_t surrogate, double sg_height,
                                              double sg_width, bool count_spikes) {
  if (!(at::GradMode::is_enabled() && any_requires_grad({&x, &h, &d, &threshold}))) {
    const auto& op = fs_neuron_op();
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return op.call(x, h, d, threshold, surrogate, sg_height, sg_width, count_spikes);
  }
  auto o = FsFunction::apply(x, h, d, threshold, surrogate, sg_height, sg_width, count_spikes);
  return {o[0], o[1]};
}

}  // namespace

SPIKEOPS_LIBRARY_IMPL(SPIKEOPS_OPS, Autograd, m) {
  m.impl("lif_forward", &lif_forward_autograd);
  m.impl("soft_lif", &soft_lif_autograd);
  m.impl("fs_neuron", &fs_neuron_autograd);
}

}  // namespace spikeops
