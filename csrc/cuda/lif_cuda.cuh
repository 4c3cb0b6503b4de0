// Device-side plumbing shared by the CUDA kernels: the launch, conversions
// between the storage types and float32, and vectorised access to runs of
// neighbouring neurons. The neuron math itself comes from include/spikeops/.
//
// nvcc builds these sources for the GPU. The test build also compiles them, as
// they are, with the host compiler and runs them on the CPU through the
// emulation of the CUDA execution model in csrc/emulation/cuda_emulation.h.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#if !defined(__CUDACC__)
#include "cuda_emulation.h"
#endif
#include "spikeops/cuda.h"

namespace spikeops::cuda {
namespace {

constexpr int kThreadsPerBlock = 256;
// At least 3 blocks (768 threads) per SM: enough loads in flight to cover DRAM
// latency; caps registers at 85 per thread.
constexpr int kMinBlocksPerSm = 3;
// Neurons per thread where alignment allows: 16-byte accesses for float32,
// 8-byte for the 16-bit types (8 lanes of backward state would not fit in 85
// registers without spilling).
constexpr int kVec = 4;

// Every kernel launch: enqueued on `stream` by nvcc; run on the host, over the
// same grid, by the emulation.
template <class... Params, class... Args>
cudaError_t launch(void (*kernel)(Params...), unsigned blocks, unsigned threads, cudaStream_t stream,
                   const Args&... args) {
#if defined(__CUDACC__)
  kernel<<<blocks, threads, 0, stream>>>(args...);
  return cudaGetLastError();
#else
  (void)stream;
  return emulation::run_grid(dim3(blocks), dim3(threads), [&] { kernel(args...); });
#endif
}

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(uint16_t v) { return static_cast<float>(v); }
__device__ __forceinline__ float to_float(int32_t v) { return static_cast<float>(v); }

// Round to nearest even; counters saturate at the type's range.
template <class T>
__device__ __forceinline__ T from_float(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else if constexpr (std::is_same_v<T, uint16_t>) return static_cast<uint16_t>(fminf(v, 65535.0f));
  else return static_cast<T>(v);
}

// VEC neighbouring elements moved as one aligned access. The host launches a
// VEC > 1 kernel only when N is a multiple of VEC and every buffer is aligned to
// its pack.
template <class T, int VEC>
struct alignas(sizeof(T) * VEC) Pack {
  T v[VEC];
};

template <int VEC, class T>
__device__ __forceinline__ Pack<T, VEC> load_pack(const T* p) {
  return *reinterpret_cast<const Pack<T, VEC>*>(p);
}

// Loads are kept as packs until used: a 16-bit pack holds two neurons per register.
template <int VEC, class T>
__device__ __forceinline__ void unpack(const Pack<T, VEC>& pack, float (&out)[VEC]) {
#pragma unroll
  for (int i = 0; i < VEC; ++i) out[i] = to_float(pack.v[i]);
}

template <int VEC, class T>
__device__ __forceinline__ void store_pack(T* p, const float (&in)[VEC]) {
  Pack<T, VEC> pack;
#pragma unroll
  for (int i = 0; i < VEC; ++i) pack.v[i] = from_float<T>(in[i]);
  *reinterpret_cast<Pack<T, VEC>*>(p) = pack;
}

template <class T>
__device__ __forceinline__ uint16_t bits16(T v) {
  uint16_t b;
  memcpy(&b, &v, sizeof(b));
  return b;
}

// The bits of +infinity in a 16-bit float type.
template <class S>
constexpr uint16_t kInfBits = std::is_same_v<S, __half> ? 0x7c00 : 0x7f80;

// The saved pre-spike membrane h in the storage type S. The backward pass
// recomputes each spike as (stored h > theta), so the stored value must keep
// h's side of the threshold. Rounding to a 16-bit type is monotonic and can
// only break that when theta lies between h and its rounded value; then the
// neighbour on h's side (one ulp away) is stored instead. A finite h beyond
// the type's range saturates to its largest finite value (an infinite saved h
// would make the gradients inf or NaN); -inf, the mark of a refractory step,
// stays. Only a threshold beyond the type's range can then lose the side.
template <class S>
__device__ __forceinline__ float encode_saved_h(float h, float theta) {
  if constexpr (std::is_same_v<S, float>) {
    return h;
  } else {
    uint16_t rounded = bits16(from_float<S>(h));
    if ((rounded & 0x7fff) == kInfBits<S> && fabsf(h) != INFINITY) rounded -= 1;
    S r;
    memcpy(&r, &rounded, sizeof(r));
    const bool fired = h > theta;
    if (fired == (to_float(r) > theta)) return to_float(r);
    // Sign-magnitude bits: the step away from zero is +1, toward zero -1.
    const uint16_t b = rounded;
    uint16_t next;
    if ((b & 0x7fff) == 0) next = fired ? 0x0001 : 0x8001;
    else next = ((b & 0x8000) != 0) != fired ? b + 1 : b - 1;
    S out;
    memcpy(&out, &next, sizeof(out));
    return to_float(out);
  }
}

__device__ __forceinline__ float load_param(const ParamRef<float>& p, int64_t n) {
  return p.data ? p.data[n * p.stride] : p.value;
}

__device__ __forceinline__ NeuronParams<float> load_params(const ParamRef<float>& alpha, const ParamRef<float>& gamma,
                                                           const ParamRef<float>& theta, int64_t n) {
  return {load_param(alpha, n), load_param(gamma, n), load_param(theta, n)};
}

inline bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

inline unsigned blocks_for(int64_t N, int vec) {
  const int64_t threads = (N + vec - 1) / vec;
  return static_cast<unsigned>((threads + kThreadsPerBlock - 1) / kThreadsPerBlock);
}

// Blocks for a grid-stride loop over n elements: one thread per element, at
// most 2^20 blocks (the threads stride over the rest).
inline unsigned strided_blocks(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(blocks < (1 << 20) ? blocks : (1 << 20));
}

}  // namespace
}  // namespace spikeops::cuda
