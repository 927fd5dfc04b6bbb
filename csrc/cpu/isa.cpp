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

bool detect_vnni() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  return detect() == Isa::kAvx512 && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

constexpr const char* kVnniName = "avx512_vnni";

// The override, parsed: the level asked for (best when unset or empty) and
// whether it names the VNNI level.
Isa parse_override(bool* vnni) {
  const Isa best = hardware_isa();
  const char* env = std::getenv(kOverride);
  *vnni = env == nullptr || *env == '\0' || std::strcmp(env, kVnniName) == 0;
  if (env == nullptr || *env == '\0') return best;
  bool known = *vnni;
  Isa want = best;
  for (const Isa isa : {Isa::kPortable, Isa::kAvx2, Isa::kAvx512}) {
    if (std::strcmp(env, isa_name(isa)) == 0) {
      known = true;
      want = isa;
    }
  }
  TORCH_CHECK_VALUE(known, kOverride, "='", env, "' is not an instruction set of the CPU kernels: ",
                    "use portable, avx2, avx512 or avx512_vnni (or leave it unset for the best ",
                    "this CPU has, ", isa_name(best), hardware_vnni() ? " with VNNI)" : ")");
  return want < best ? want : best;
}

}  // namespace

Isa hardware_isa() {
  static const Isa best = detect();
  return best;
}

Isa selected_isa() {
  bool vnni = false;
  return parse_override(&vnni);
}

bool hardware_vnni() {
  static const bool has = detect_vnni();
  return has;
}

bool selected_vnni() {
  bool vnni = false;
  const Isa isa = parse_override(&vnni);
  return vnni && isa == Isa::kAvx512 && hardware_vnni();
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
