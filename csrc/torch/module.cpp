// The Python extension module spikeops._C. Importing it registers the ops
// (TORCH_LIBRARY in lif_ops.cpp); it also reports how the library was built
// and gives Python the kernels' enumerations and the surrogate check.
#include <pybind11/pybind11.h>

#include "arg_checks.h"
#include "output_cache.h"
#include "spikeops/cpu.h"
#include "spikeops/neuron.h"

namespace {

template <size_t N>
pybind11::dict names_to_values(const char* const (&names)[N]) {
  pybind11::dict d;
  for (size_t i = 0; i < N; ++i) d[names[i]] = i;
  return d;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "spikeops kernels; importing this module registers torch.ops.spikeops.*";
  m.def("cpu_isa", [] { return std::string(spikeops::cpu::isa_name(spikeops::cpu::selected_isa())); },
        "The CPU instruction set the kernels use now (honours SPIKEOPS_CPU_ISA).");
  m.def("cpu_isa_supported", [](const std::string& name) {
    for (auto isa : {spikeops::cpu::Isa::Scalar, spikeops::cpu::Isa::AVX2, spikeops::cpu::Isa::AVX512})
      if (name == spikeops::cpu::isa_name(isa)) return spikeops::cpu::isa_supported(isa);
    throw pybind11::value_error("unknown ISA '" + name + "'; expected scalar, avx2 or avx512");
  });
  m.def("empty_cache", &spikeops::output_cache_release,
        "Returns the free blocks of the ops' CPU output cache to the system.");
  m.def("output_cache_info", [] {
    pybind11::dict d;
    d["free_bytes"] = spikeops::output_cache_free_bytes();
    d["limit_bytes"] = spikeops::output_cache_limit_bytes();
    return d;
  }, "Bytes held in free blocks of the CPU output cache, and its limit (SPIKEOPS_CPU_CACHE_MB).");
  m.attr("reset_modes") = names_to_values(spikeops::kResetModeNames);
  m.attr("surrogate_kinds") = names_to_values(spikeops::kSurrogateNames);
  m.def(
      "check_surrogate",
      [](int64_t kind, double height, double width) {
        try {
          spikeops::surrogate_arg(kind, height, width);
        } catch (const c10::ValueError& e) {
          throw pybind11::value_error(e.what_without_backtrace());
        }
      },
      "Raises ValueError where the ops would reject this surrogate kind and constants.");
#ifdef SPIKEOPS_WITH_CUDA
  m.attr("cuda_built") = true;
#else
  m.attr("cuda_built") = false;
#endif
}
