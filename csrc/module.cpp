// The private extension module compressor._C.
//
// Importing it loads this shared object, whose static initialisers register the
// torch.ops.compressor.* operators (see csrc/ops/). The Python-visible functions
// here only describe the build.
#include <pybind11/pybind11.h>

#include <string>

#include "ops/cpu/isa.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "compressor C++ core: build information (ops live in torch.ops.compressor)";
  m.def("version", [] { return std::string(COMPRESSOR_VERSION); });
  m.def("cuda_built", [] {
#ifdef COMPRESSOR_WITH_CUDA
    return true;
#else
    return false;
#endif
  });
  m.def("cpu_isa", [] { return std::string(compressor::cpu::best_isa_name()); },
        "Best instruction set the CPU kernels dispatch to on this machine.");
}
