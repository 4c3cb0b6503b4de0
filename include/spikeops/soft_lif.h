// The soft-LIF rate neuron (docs/math.md §3): the steady firing rate of a LIF
// neuron with its rectifier smoothed, and its derivative. Shared by the CPU and
// CUDA kernels.
//
//   y = gain * x / gamma,   s = gamma * log(1 + e^y)            (smoothed rho(gain * x))
//   r = amplitude / (tau_ref + tau_rc * log(1 + 1/s))
//   dr/dx = amplitude * tau_rc * gain * sigmoid(y) / (D^2 * s * (1 + s)),  D = r's denominator
#pragma once

#include "spikeops/math.h"

namespace spikeops {

struct SoftLifParams {
  double tau_rc;
  double tau_ref;
  double smoothing;  // gamma
  double gain;
  double amplitude;
};

// Pointers to contiguous arrays of n elements; grad_out / grad_x are used by the backward only.
template <class S>
struct SoftLifArgs {
  const S* x = nullptr;
  const S* grad_out = nullptr;
  S* out = nullptr;
  int64_t n = 0;
  SoftLifParams p{};
};

// Below this y, e^y < 1e-13: log(1 + 1/s) is computed as -log(s) = -log(gamma) - y
// (relative error < 1e-13) so the rate stays exact where e^y would underflow.
constexpr double kSoftLifTail = -30.0;

// r (and, when grad is non-null, dr/dx) at x, in the compute type F: a double,
// a float, or a SIMD register of floats (branch-free: both cases are computed
// and the tail's selected, so lanes past the tail may hold inf/NaN unused).
template <class F>
SPIKEOPS_HOST_DEVICE F soft_lif_rate(F x, const SoftLifParams& p, F* grad) {
  const F gamma = F(p.smoothing), tau_rc = F(p.tau_rc), zero = F(0.0f), one = F(1.0f);
  const F y = F(p.gain) * x / gamma;
  const F e = vexp(zero - vabs(y));
  const F s = gamma * (vmax(y, zero) + vlog1p(e));
  const F sig = select(lt(y, zero), e, one) / (one + e);
  // log(1 + 1/s) and sigmoid(y) / (s (1 + s)); in the tail sigmoid(y) -> e^y and s -> gamma e^y.
  const Mask<F> tail = lt(y, F(kSoftLifTail));
  const F log_term = select(tail, F(-log(p.smoothing)) - y, vlog1p(one / s));
  const F ratio = select(tail, one / gamma, sig / (s * (one + s)));
  const F denom = F(p.tau_ref) + tau_rc * log_term;
  if (grad) *grad = F(p.amplitude) * tau_rc * F(p.gain) * ratio / (denom * denom);
  return F(p.amplitude) / denom;
}

}  // namespace spikeops
