// The private extension module compressor._C.
//
// Importing it loads this shared object, whose static initialisers register the
// torch.ops.compressor.* operators (see csrc/ops/). The Python-visible functions
// here only describe the build and the CPU.
#include <c10/util/Exception.h>
#include <pybind11/pybind11.h>

#include <string>

#include "cpu/isa.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "compressor C++ core: build information (ops live in torch.ops.compressor)";
  m.def("version", [] { return std::string(COMPRESSOR_VERSION); });
  m.def(
      "torch_version", [] { return std::string(COMPRESSOR_TORCH_VERSION); },
      "torch.__version__ of the torch this extension was built against (it runs with the same\n"
      "major.minor only; compressor.ops checks that on import).");
  m.def("cuda_built", [] {
#ifdef COMPRESSOR_WITH_CUDA
    return true;
#else
    return false;
#endif
  });
  m.def(
      "cpu_isa",
      [] {
        try {
          return std::string(compressor::cpu::isa_name(compressor::cpu::selected_isa()));
        } catch (const c10::Error& e) {
          throw py::value_error(e.what_without_backtrace());
        }
      },
      "The instruction set the sparse kernels run on: 'avx512', 'avx2' or 'portable'; the best\n"
      "this CPU has, lowered by COMPRESSOR_SPARSE_ISA (read on every call). Raises ValueError\n"
      "for a COMPRESSOR_SPARSE_ISA that is not one of those names.");
  m.def(
      "cpu_int8_isa",
      [] {
        try {
          return std::string(compressor::cpu::selected_vnni()
                                 ? "avx512_vnni"
                                 : compressor::cpu::isa_name(compressor::cpu::selected_isa()));
        } catch (const c10::Error& e) {
          throw py::value_error(e.what_without_backtrace());
        }
      },
      "The instruction set the int8 sparse kernels run on: cpu_isa(), or 'avx512_vnni' when\n"
      "they also use AVX512_VNNI and AVX512_VBMI (the CPU has both and COMPRESSOR_SPARSE_ISA is\n"
      "unset, empty or 'avx512_vnni'). Raises ValueError as cpu_isa() does.");
}
