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
#include "spikeops/half.h"

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

// The 16-bit format (include/spikeops/half.h) of a CUDA storage type.
template <class S>
using Format16 = std::conditional_t<std::is_same_v<S, __half>, Float16, BFloat16>;

// The saved pre-spike membrane h in the storage type S, on h's side of the
// threshold (saved_h_bits has the rule), returned as the float it stores.
template <class S>
__device__ __forceinline__ float encode_saved_h(float h, float theta) {
  if constexpr (std::is_same_v<S, float>) {
    return h;
  } else {
    const uint16_t b = saved_h_bits<Format16<S>>(h, theta, bits16(from_float<S>(h)));
    S out;
    memcpy(&out, &b, sizeof(out));
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
