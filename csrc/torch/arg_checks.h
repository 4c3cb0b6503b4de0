// The argument checks of every op, in one place. Each op's glue calls these
// before it touches data; the Python layer does not repeat them. A failure
// names the argument and raises the Python exception that fits: TypeError for
// a wrong dtype, ValueError for a wrong value, shape or device.
#pragma once

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <utility>
#include <string_view>

#include "op_library.h"
#include "spikeops/surrogate.h"

namespace spikeops {

inline void check_same_device(const at::Tensor& t, const at::Tensor& like, const char* name, const char* like_name) {
  TORCH_CHECK_VALUE(t.device() == like.device(), name, " is on ", t.device(), " but ", like_name, " is on ",
                    like.device(), "; all tensors must be on the same device");
}

// A dtype as Python spells it: float32, int32, ...
inline std::string_view dtype_name(at::ScalarType dtype) { return c10::getDtypeNames(dtype).first; }

inline void check_dtype(const at::Tensor& t, at::ScalarType dtype, const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, name, " must have dtype ", dtype_name(dtype), ", got ",
                   dtype_name(t.scalar_type()));
}

inline void check_floating(const at::Tensor& t, const char* name) {
  TORCH_CHECK_TYPE(at::isFloatingType(t.scalar_type()), name, " must be a floating point tensor, got ",
                   dtype_name(t.scalar_type()));
}

// A [T, ...] sequence with at least one step.
inline void check_time_major(const at::Tensor& x, const char* name) {
  TORCH_CHECK_VALUE(x.dim() >= 1 && x.sym_size(0) >= 1, name,
                    " must have a leading time dimension [T, ...] with T >= 1, got shape ", x.sym_sizes());
}

// x's device and dtype have kernels: float32/float64 (and float16/bfloat16 where
// cpu_16bit) on CPU; float32, float16, bfloat16 (and float64 where cuda_double) on CUDA. Meta tensors (the fake
// kernels) do not say which device they stand for: with CUDA kernels built,
// any kernel dtype passes; otherwise they can only stand for CPU tensors.
inline void check_kernel_dtype(const at::Tensor& x, const char* name, bool cuda_double, bool cpu_16bit = false) {
  const auto dtype = x.scalar_type();
#ifdef SPIKEOPS_CUDA_KERNELS
  if (x.is_meta()) {
    const bool ok = dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf || dtype == at::kBFloat16;
    TORCH_CHECK_TYPE(ok, name, " must be a floating point tensor of a dtype spikeops has kernels for, got ",
                     dtype_name(dtype));
    return;
  }
#endif
  if ((x.device().is_cpu() && !uses_cuda_kernels(x)) || x.is_meta()) {  // meta: a CPU-only build's CPU tensors
    const bool ok = dtype == at::kFloat || dtype == at::kDouble ||
                    (cpu_16bit && (dtype == at::kHalf || dtype == at::kBFloat16));
    TORCH_CHECK_TYPE(ok, name, " must be a float32", cpu_16bit ? ", float64, float16 or bfloat16" : " or float64",
                     " tensor on CPU, got ", dtype_name(dtype));
    return;
  }
#ifdef SPIKEOPS_CUDA_KERNELS
  if (uses_cuda_kernels(x)) {
    const bool ok = dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16 ||
                    (cuda_double && dtype == at::kDouble);
    TORCH_CHECK_TYPE(ok, name, " must be a float32, ", cuda_double ? "float64, " : "",
                     "float16 or bfloat16 tensor on CUDA, got ", dtype_name(dtype));
    return;
  }
  TORCH_CHECK_VALUE(false, name, " is on ", x.device(), "; spikeops has kernels for CPU and CUDA tensors");
#else
  (void)cuda_double;
  TORCH_CHECK_VALUE(false, name, " is on ", x.device(),
                    "; this build of spikeops has CPU kernels only (it was built without a CUDA torch and nvcc)");
#endif
}

// The buffers of an `_out` op: no output shares memory with an input or with
// another output, except the (output, input) index pairs in `in_place`, which may
// be exactly the same elements: the kernels read each element of such an input
// before they write that element of the output.
struct NamedTensor {
  const at::Tensor& t;
  const char* name;
};

inline void check_outputs_apart(std::initializer_list<NamedTensor> outputs, std::initializer_list<NamedTensor> inputs,
                                std::initializer_list<std::pair<int, int>> in_place = {}) {
  const auto apart = [](const NamedTensor& out, const NamedTensor& other, bool same_ok) {
    const at::Tensor &a = out.t, &b = other.t;
    if (!b.defined() || a.is_meta() || b.is_meta() || a.numel() == 0 || b.numel() == 0) return;
    const auto status = at::get_overlap_status(a, b);
    if (status == at::MemOverlapStatus::No || (same_ok && status == at::MemOverlapStatus::Full)) return;
    TORCH_CHECK_VALUE(false, out.name, " shares memory with ", other.name,
                      same_ok ? " other than as exactly the same elements (an in-place call)" : "",
                      "; pass a separate buffer");
  };
  int i = 0;
  for (const NamedTensor& out : outputs) {
    int j = 0;
    for (const NamedTensor& in : inputs) {
      bool same_ok = false;
      for (const auto& [o, k] : in_place) same_ok = same_ok || (o == i && k == j);
      apart(out, in, same_ok);
      ++j;
    }
    int k = 0;
    for (const NamedTensor& other : outputs)
      if (k++ > i) apart(out, other, false);
    ++i;
  }
}

// An interval of allowed values; an open end excludes it (an open infinite end
// asks for finite values). NaN is in no interval.
struct Interval {
  double lo, hi;
  bool lo_open = false, hi_open = false;
  bool contains(double v) const { return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi); }
};
inline std::ostream& operator<<(std::ostream& os, const Interval& r) {
  return os << (r.lo_open ? "(" : "[") << r.lo << ", " << r.hi << (r.hi_open ? ")" : "]");
}
constexpr Interval kFiniteValues{-INFINITY, INFINITY, true, true};

inline void check_range(double value, const char* name, const Interval& allowed) {
  TORCH_CHECK_VALUE(allowed.contains(value), name, " must lie in ", allowed, ", got ", value);
}

inline void check_finite(double value, const char* name) {
  TORCH_CHECK_VALUE(std::isfinite(value), name, " must be a finite number, got ", value);
}

inline void check_int_range(int64_t value, const char* name, int64_t lo, int64_t hi) {
  TORCH_CHECK_VALUE(value >= lo && value <= hi, name, " must lie in [", lo, ", ", hi, "], got ", value);
}

// The range of a parameter tensor's values, where they are on the host:
// reading device memory would synchronise (and break CUDA graph capture).
inline void check_param_range(const at::Tensor& p, const char* name, const Interval& allowed) {
  TORCH_CHECK_VALUE(p.sym_numel() != 0, name, " is an empty tensor; give one value, or one per neuron");
  if (!p.device().is_cpu()) return;
  if (p.numel() == 1) return check_range(p.item<double>(), name, allowed);
  const auto [mn, mx] = at::aminmax(p.to(at::kDouble));
  const double low = mn.item<double>(), high = mx.item<double>();
  TORCH_CHECK_VALUE(allowed.contains(low) && allowed.contains(high), name, " must lie in ", allowed,
                    ", got values in [", low, ", ", high, "]");
}

// The surrogate's kind and constants (docs/math.md §2): every op that takes a
// surrogate, and the Python Surrogate objects when they are made, check here.
inline SurrogateParamsOf<double> surrogate_arg(int64_t kind, double height, double width) {
  TORCH_CHECK_VALUE(kind >= 0 && kind < kNumSurrogates, "surrogate must be a kind in [0, ", kNumSurrogates,
                    ") (spikeops.surrogate), got ", kind);
  const auto k = static_cast<SurrogateKind>(kind);
  TORCH_CHECK_VALUE(k != SurrogateKind::Rectangle || width > 0, "the rectangle surrogate's width must be > 0, got ",
                    width);
  TORCH_CHECK_VALUE(!uses_spike_ages(k) || width >= 0, "the stdb surrogate's beta must be >= 0, got ", width);
  check_finite(height, "surrogate height");
  check_finite(width, "surrogate width");
  return make_surrogate<double>(static_cast<int32_t>(kind), height, width);
}

}  // namespace spikeops
