// Fused multi-step LIF backward through time on CUDA: one thread per VEC
// neighbouring neurons, from step T-1 down to 0, the running gradient dL/dh and
// the per-neuron parameter gradients in registers. The membrane of step t-1
// (needed for the decay's gradient and as the next iteration's input) is
// loaded one step ahead.
#include "lif_cuda.cuh"

namespace spikeops::cuda {
namespace {

template <class S, int VEC>
__global__ void __launch_bounds__(kThreadsPerBlock, kMinBlocksPerSm) lif_backward_kernel(const LifBackwardArgs<S, float> a) {
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * kThreadsPerBlock + threadIdx.x) * VEC;
  if (n0 >= a.N) return;
  const LifConfig& c = a.cfg;
  NeuronParams<float> p[VEC];
  float g_next[VEC], g_alpha[VEC], g_gamma[VEC], g_theta[VEC];
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    p[i] = load_params(a.alpha, a.gamma, a.theta, n0 + i);
    g_next[i] = g_alpha[i] = g_gamma[i] = g_theta[i] = 0.0f;
  }
  const int64_t last = (a.T - 1) * a.N + n0;
  Pack<S, VEC> h_pack = load_pack<VEC>(a.saved_h + last), g_s_pack = load_pack<VEC>(a.grad_spikes + last);
  for (int64_t t = a.T - 1; t >= 0; --t) {
    const int64_t at = t * a.N + n0;
    float h[VEC], g_s[VEC], h_prev[VEC] = {}, age[VEC] = {}, x[VEC] = {}, g_x[VEC];
    unpack(h_pack, h);
    unpack(g_s_pack, g_s);
    if (t > 0) {
      h_pack = load_pack<VEC>(a.saved_h + at - a.N);
      g_s_pack = load_pack<VEC>(a.grad_spikes + at - a.N);
      if (a.grad_alpha) unpack(h_pack, h_prev);
    }
    if (a.saved_age) unpack(load_pack<VEC>(a.saved_age + at), age);
    if (a.grad_gamma) unpack(load_pack<VEC>(a.x + at), x);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const int64_t n = n0 + i;
      const float g_end = (t == a.T - 1 && a.grad_v) ? a.grad_v[n] : 0.0f;
      const float g_h = lif_step_backward(c, p[i], h[i], g_s[i], g_next[i], g_end, age[i], g_theta[i]);
      g_next[i] = g_h;
      g_x[i] = p[i].gamma * g_h;
      if (a.grad_alpha) {
        const float v_prev = t > 0 ? state_from_saved(c, p[i], h_prev[i])
                                   : decayed_input(c, p[i], a.v0 ? a.v0[n] : c.v_reset);
        g_alpha[i] = g_alpha[i] + g_h * v_prev;
      }
      if (a.grad_gamma) g_gamma[i] = g_gamma[i] + g_h * x[i];
    }
    store_pack(a.grad_x + at, g_x);
  }
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const int64_t n = n0 + i;
    const float v0 = a.v0 ? a.v0[n] : c.v_reset;
    const float age0 = a.a0 ? counter_from_int(static_cast<float>(a.a0[n])) : static_cast<float>(a.age_init);
    const float g_v0 = lif_initial_backward(c, p[i], v0, age0, g_next[i], g_theta[i]);
    if (a.grad_v0) a.grad_v0[n] = g_v0;
    if (a.grad_alpha) a.grad_alpha[n] = g_alpha[i];
    if (a.grad_gamma) a.grad_gamma[n] = g_gamma[i];
    if (a.grad_theta) a.grad_theta[n] = g_theta[i];
  }
}

}  // namespace

template <class S>
cudaError_t lif_backward(const LifBackwardArgs<S, float>& a, cudaStream_t stream) {
  if (a.N == 0 || a.T == 0) return cudaSuccess;
  const bool vectorised = a.N % kVec == 0 && aligned(a.grad_spikes, sizeof(S) * kVec) && aligned(a.saved_h, sizeof(S) * kVec) &&
                          aligned(a.x, sizeof(S) * kVec) && aligned(a.grad_x, sizeof(S) * kVec) &&
                          aligned(a.saved_age, sizeof(uint16_t) * kVec);
  return vectorised ? launch(lif_backward_kernel<S, kVec>, blocks_for(a.N, kVec), kThreadsPerBlock, stream, a)
                    : launch(lif_backward_kernel<S, 1>, blocks_for(a.N, 1), kThreadsPerBlock, stream, a);
}

template cudaError_t lif_backward<float>(const LifBackwardArgs<float, float>&, cudaStream_t);
template cudaError_t lif_backward<__half>(const LifBackwardArgs<__half, float>&, cudaStream_t);
template cudaError_t lif_backward<__nv_bfloat16>(const LifBackwardArgs<__nv_bfloat16, float>&, cudaStream_t);

}  // namespace spikeops::cuda
