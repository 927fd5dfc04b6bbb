// The instruction-set detector of the CPU kernels: the one place that asks the
// CPU what it supports.
//
// Two mechanisms pick ISA-specific code:
// * The sparse engine (csrc/cpu/sparse/) and the thinning gather dispatch
//   explicitly. The engine follows selected_isa(), which compressor._C.cpu_isa()
//   reports; the gather's AVX-512 path follows hardware_isa().
// * Element-wise loops of the mask and structured kernels are compiled as GCC
//   target_clones (COMPRESSOR_ISA_CLONES below). The dynamic loader picks one
//   clone per process from the CPU alone (the avx512f clone on any CPU with
//   AVX-512F); COMPRESSOR_SPARSE_ISA does not apply to them.
#pragma once

namespace compressor::cpu {

// Ordered: a level runs all code built for a lower one.
enum class Isa { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };

// The best level of this CPU: kAvx512 needs AVX-512 F, VL, BW and DQ; kAvx2
// needs AVX2 and FMA; anything else is kPortable, and so is every build but
// GCC on x86-64 (the only one with AVX2 / AVX-512 kernels). Detected once.
Isa hardware_isa();

// hardware_isa() lowered by the environment variable
// COMPRESSOR_SPARSE_ISA=portable|avx2|avx512|avx512_vnni, read on every call so
// that tests can run every variant in one process; asking for more than the CPU
// has gives what it has, and an unset or empty variable gives hardware_isa().
// avx512_vnni selects kAvx512 (the float kernels have no VNNI variant). Any
// other value throws c10::ValueError (a Python ValueError) naming the variable,
// the value and the accepted spellings.
Isa selected_isa();

// The VNNI flag of the int8 kernels: whether the CPU is kAvx512 and also has
// AVX512_VNNI (vpdpbusd, vpdpwssd) and AVX512_VBMI (vpermb, vpermi2b). Detected once.
bool hardware_vnni();

// Whether the int8 kernels use VNNI: hardware_vnni() and COMPRESSOR_SPARSE_ISA
// unset, empty or avx512_vnni (so avx512 runs the int8 kernels' AVX-512 code
// without VNNI). Throws as selected_isa() for a bad value.
bool selected_vnni();

// "portable", "avx2" or "avx512": the spellings COMPRESSOR_SPARSE_ISA accepts
// (besides avx512_vnni).
const char* isa_name(Isa isa);

}  // namespace compressor::cpu

// Multi-versioned element-wise loops: one clone per ISA, picked at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define COMPRESSOR_ISA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define COMPRESSOR_ISA_CLONES
#endif
