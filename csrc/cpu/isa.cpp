// Instruction-set detection and the COMPRESSOR_SPARSE_ISA override (see isa.h).
#include "cpu/isa.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

namespace compressor::cpu {
namespace {

constexpr const char* kOverride = "COMPRESSOR_SPARSE_ISA";

Isa detect() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    return Isa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kPortable;
}

}  // namespace

Isa hardware_isa() {
  static const Isa best = detect();
  return best;
}

Isa selected_isa() {
  const Isa best = hardware_isa();
  const char* env = std::getenv(kOverride);
  if (env == nullptr || *env == '\0') return best;
  bool known = false;
  Isa want = best;
  for (const Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512}) {
    if (std::strcmp(env, isa_name(isa)) == 0) {
      known = true;
      want = isa;
    }
  }
  TORCH_CHECK_VALUE(known, kOverride, "='", env, "' is not an instruction set of the CPU kernels: ",
                    "use portable, avx2 or avx512 (or leave it unset for the best this CPU has, ",
                    isa_name(best), ")");
  return want < best ? want : best;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kPortable:
      break;
  }
  return "portable";
}

}  // namespace compressor::cpu
