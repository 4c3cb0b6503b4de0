// The Python extension module spikeops._C. Importing it registers the ops
// (TORCH_LIBRARY in lif_ops.cpp); it also reports how the library was built.
#include <pybind11/pybind11.h>

#include "spikeops/cpu.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "spikeops kernels; importing this module registers torch.ops.spikeops.*";
  m.def("cpu_isa", [] { return std::string(spikeops::cpu::isa_name(spikeops::cpu::selected_isa())); },
        "The CPU instruction set the kernels use now (honours SPIKEOPS_CPU_ISA).");
  m.def("cpu_isa_supported", [](const std::string& name) {
    for (auto isa : {spikeops::cpu::Isa::Scalar, spikeops::cpu::Isa::AVX2, spikeops::cpu::Isa::AVX512})
      if (name == spikeops::cpu::isa_name(isa)) return spikeops::cpu::isa_supported(isa);
    throw pybind11::value_error("unknown ISA '" + name + "'; expected scalar, avx2 or avx512");
  });
#ifdef SPIKEOPS_WITH_CUDA
  m.attr("cuda_built") = true;
#else
  m.attr("cuda_built") = false;
#endif
}
