// Fused multi-step LIF forward on CUDA: one thread per VEC neighbouring neurons,
// looping over T with the state in registers. Row t of every [T, N] buffer is
// read and written by consecutive threads, so each step is one coalesced sweep;
// the next step's input is loaded before the current step's outputs are
// stored, keeping two loads per thread in flight.
#include "lif_cuda.cuh"

namespace spikeops::cuda {
namespace {

template <class S, int VEC>
__global__ void __launch_bounds__(kThreadsPerBlock, kMinBlocksPerSm) lif_forward_kernel(const LifForwardArgs<S, float> a) {
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * kThreadsPerBlock + threadIdx.x) * VEC;
  if (n0 >= a.N) return;
  const LifConfig& c = a.cfg;
  NeuronParams<float> p[VEC];
  NeuronState<float> st[VEC];
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const int64_t n = n0 + i;
    p[i] = load_params(a.alpha, a.gamma, a.theta, n);
    st[i].v = a.v0 ? a.v0[n] : c.v_reset;
    st[i].r = a.r0 ? counter_from_int(static_cast<float>(a.r0[n])) : 0.0f;
    st[i].age = a.a0 ? counter_from_int(static_cast<float>(a.a0[n])) : static_cast<float>(a.age_init);
  }
  Pack<S, VEC> x_pack = load_pack<VEC>(a.x + n0);
  for (int64_t t = 0; t < a.T; ++t) {
    const int64_t at = t * a.N + n0;
    float x[VEC], spike[VEC], h[VEC], age[VEC];
    unpack(x_pack, x);
    if (t + 1 < a.T) x_pack = load_pack<VEC>(a.x + at + a.N);
#pragma unroll
    for (int i = 0; i < VEC; ++i) {
      const StepOutput<float> o = lif_step_forward(c, p[i], st[i], x[i]);
      spike[i] = o.spike;
      h[i] = o.h;
      age[i] = o.age;
    }
    store_pack(a.spikes + at, spike);
    if (a.saved_h) {
#pragma unroll
      for (int i = 0; i < VEC; ++i) h[i] = encode_saved_h<S>(h[i], p[i].theta);
      store_pack(a.saved_h + at, h);
    }
    if (a.saved_age) store_pack(a.saved_age + at, age);
    if (a.ages) store_pack(a.ages + at, age);
  }
#pragma unroll
  for (int i = 0; i < VEC; ++i) {
    const int64_t n = n0 + i;
    a.v_out[n] = st[i].v;
    if (a.r_out) a.r_out[n] = static_cast<int32_t>(st[i].r);
    if (a.a_out) a.a_out[n] = static_cast<int32_t>(st[i].age);
  }
}

}  // namespace

template <class S>
cudaError_t lif_forward(const LifForwardArgs<S, float>& a, cudaStream_t stream) {
  if (a.N == 0 || a.T == 0) return cudaSuccess;
  const bool vectorised = a.N % kVec == 0 && aligned(a.x, sizeof(S) * kVec) && aligned(a.spikes, sizeof(S) * kVec) && aligned(a.saved_h, sizeof(S) * kVec) &&
                          aligned(a.saved_age, sizeof(uint16_t) * kVec) && aligned(a.ages, sizeof(int32_t) * kVec);
  return vectorised ? launch(lif_forward_kernel<S, kVec>, blocks_for(a.N, kVec), kThreadsPerBlock, stream, a)
                    : launch(lif_forward_kernel<S, 1>, blocks_for(a.N, 1), kThreadsPerBlock, stream, a);
}

template cudaError_t lif_forward<float>(const LifForwardArgs<float, float>&, cudaStream_t);
template cudaError_t lif_forward<__half>(const LifForwardArgs<__half, float>&, cudaStream_t);
template cudaError_t lif_forward<__nv_bfloat16>(const LifForwardArgs<__nv_bfloat16, float>&, cudaStream_t);

}  // namespace spikeops::cuda
