// The one CPU dispatch point of the op glue: which kernel of a family runs for
// the instruction set in use (chosen by csrc/cpu/isa.cpp), and how a call's
// work is split over torch's intra-op threads. Every op family runs its CPU
// kernels through run_cpu; adding a family adds no switch.
#pragma once

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "spikeops/cpu.h"

namespace spikeops {

// The CPU ISA the kernels use (SPIKEOPS_CPU_ISA or the best supported); a bad choice is a torch error.
inline cpu::Isa current_isa() {
  try {
    return cpu::selected_isa();
  } catch (const std::runtime_error& e) {
    TORCH_CHECK(false, e.what());
  }
}

// A CPU kernel processes the items [begin, end) of a call.
template <class Args>
using CpuKernel = void (*)(const Args&, int64_t, int64_t);

// One family's kernels for Args: the scalar one and, where they exist, the
// AVX2 and AVX-512 ones (null: the next lower ISA's kernel runs).
template <class Args>
struct CpuKernels {
  CpuKernel<Args> scalar, avx2, avx512;
};

// The family's kernels for Args; the vector ones only where they take Args
// (they are written for float32, so float64 runs the scalar kernel).
template <class Args, class Vector>
CpuKernels<Args> kernels_for(CpuKernel<Args> scalar, Vector avx2, Vector avx512) {
  if constexpr (std::is_same_v<Vector, CpuKernel<Args>>) return {scalar, avx2, avx512};
  else return {scalar, nullptr, nullptr};
}

// Below this many neuron-steps per task, more threads do not pay off.
constexpr int64_t kMinWorkPerTask = 1 << 16;
// The cost of one element of an element-wise neuron per step, in neuron-steps
// of the LIF kernel (an exp and a log, or a compare and two adds per step).
constexpr int64_t kElementWork = 4;

// Runs the kernel for the ISA in use over items [0, count), in chunks of
// `chunk` items (the unit threads split: a neuron block, say), where one item
// costs `work_per_item` neuron-steps. Results never depend on the split.
template <class Args>
void run_cpu(const CpuKernels<Args>& kernels, const Args& a, int64_t count, int64_t chunk, int64_t work_per_item) {
  CpuKernel<Args> kernel = kernels.scalar;
  const cpu::Isa isa = current_isa();
  if (isa == cpu::Isa::AVX512 && kernels.avx512) kernel = kernels.avx512;
  else if (isa != cpu::Isa::Scalar && kernels.avx2) kernel = kernels.avx2;
  const int64_t chunks = (count + chunk - 1) / chunk;
  const int64_t grain = std::max<int64_t>(1, kMinWorkPerTask / std::max<int64_t>(chunk * work_per_item, 1));
  at::parallel_for(0, chunks, grain, [&](int64_t b, int64_t e) {
    kernel(a, b * chunk, std::min(e * chunk, count));
  });
}

}  // namespace spikeops
