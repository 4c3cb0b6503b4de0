// Run-time choice of the CPU kernels' instruction set.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "spikeops/cpu.h"

namespace spikeops::cpu {

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    // F16C: float16 data; POPCNT: counting packed spikes
    case Isa::AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("popcnt");
    case Isa::AVX512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt");
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::AVX2: return "avx2";
    case Isa::AVX512: return "avx512";
  }
  return "unknown";
}

Isa selected_isa() {
  const char* env = std::getenv("SPIKEOPS_CPU_ISA");
  if (env == nullptr || *env == '\0') {
    if (isa_supported(Isa::AVX512)) return Isa::AVX512;
    if (isa_supported(Isa::AVX2)) return Isa::AVX2;
    return Isa::Scalar;
  }
  const std::string want(env);
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512}) {
    if (want == isa_name(isa)) {
      if (!isa_supported(isa))
        throw std::runtime_error("SPIKEOPS_CPU_ISA=" + want + " but this CPU does not support " + want);
      return isa;
    }
  }
  throw std::runtime_error("SPIKEOPS_CPU_ISA must be one of scalar, avx2, avx512; got '" + want + "'");
}

}  // namespace spikeops::cpu
