// Runtime instruction-set detection shared by the CPU kernels.
//
// The library is compiled for baseline x86-64; hot loops are built in several
// variants with GCC's target_clones, and the loader picks one per CPU. This
// header only reports which variant the machine gets.
#pragma once

namespace compressor::cpu {

inline const char* best_isa_name() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "x86-64";
#else
  return "portable";
#endif
}

}  // namespace compressor::cpu

// Multi-versioned hot loops: one clone per ISA, picked at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define COMPRESSOR_ISA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define COMPRESSOR_ISA_CLONES
#endif
