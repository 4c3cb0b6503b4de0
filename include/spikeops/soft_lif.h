// The soft-LIF rate neuron (SPEC section 3): the steady firing rate of a LIF
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

SPIKEOPS_HOST_DEVICE float vlog1p(float a) { return log1pf(a); }
SPIKEOPS_HOST_DEVICE double vlog1p(double a) { return log1p(a); }
SPIKEOPS_HOST_DEVICE float vlog(float a) { return logf(a); }
SPIKEOPS_HOST_DEVICE double vlog(double a) { return log(a); }

// Below this y, e^y < 1e-13: log(1 + 1/s) is computed as -log(s) = -log(gamma) - y
// (relative error < 1e-13) so the rate stays exact where e^y would underflow.
constexpr double kSoftLifTail = -30.0;

// r (and, when grad is non-null, dr/dx) at one input x, in the compute type F.
template <class F>
SPIKEOPS_HOST_DEVICE F soft_lif_rate(F x, const SoftLifParams& p, F* grad) {
  const F gamma = F(p.smoothing), tau_rc = F(p.tau_rc);
  const F y = F(p.gain) * x / gamma;
  F log_term, ratio;  // log(1 + 1/s) and sigmoid(y) / (s * (1 + s))
  if (y < F(kSoftLifTail)) {
    log_term = -vlog(gamma) - y;
    ratio = F(1) / gamma;  // sigmoid(y) -> e^y and s -> gamma * e^y
  } else {
    const F e = vexp(-vabs(y));
    const F s = gamma * (vmax(y, F(0)) + vlog1p(e));
    const F sig = y >= F(0) ? F(1) / (F(1) + e) : e / (F(1) + e);
    log_term = vlog1p(F(1) / s);
    ratio = sig / (s * (F(1) + s));
  }
  const F denom = F(p.tau_ref) + tau_rc * log_term;
  if (grad) *grad = F(p.amplitude) * tau_rc * F(p.gain) * ratio / (denom * denom);
  return F(p.amplitude) / denom;
}

}  // namespace spikeops
