// Shared internals of the int8 engine's sources (the interface is int8.h): the
// per-ISA kernel table, target attributes and the scalar epilogue.
#pragma once

#include <cstdint>

#include "cpu/sparse/int8.h"
#include "cpu/sparse/internal.h"

// Vector types only cross always_inline calls (no ABI involved).
#pragma GCC diagnostic ignored "-Wpsabi"

#define SPARSE8_INLINE __attribute__((always_inline)) inline

#if COMPRESSOR_SPARSE_X86
#define SPARSE8_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,popcnt,f16c")))
#define SPARSE8_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt,f16c")))
#define SPARSE8_VNNI                                                                          \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vnni,avx512vbmi,avx2,fma," \
                        "bmi,bmi2,popcnt,f16c")))
#endif

namespace compressor::cpu::sparse {

// A column tile of x as the columns-layout kernels read it, and where its results go.
struct Tile8 {
  // Float tile [K', ld]: x (w8) or the exact integers xq - zp (q8). For the VNNI
  // kernels: uint8 [K' / 4, ld, 4], xq (uint8) or xq + 128 (int8).
  const void* x = nullptr;
  int64_t ld = 0;            // columns of the tile (a whole number of vectors)
  float* y = nullptr;        // [M, ld]
  const float* sx = nullptr;     // q8: x_scale per column [ld]
  const int32_t* zp = nullptr;   // VNNI: zero point per column [ld] (+128 for int8)
  const int32_t* wsum = nullptr; // VNNI: sum of the stored values per row [M]
};

// Rows layout: row units [r0, r1) for row n of x, prepared in xb (see int8_spmv.cpp);
// true when a column was out of range.
using Rows8Fn = bool (*)(const Packed8&, const Act8&, const void* xb, int64_t n, int64_t r0,
                         int64_t r1);
// Columns layout: row units [r0, r1) over one tile of nv vectors.
using Tile8Fn = void (*)(const Packed8&, const Act8&, const Tile8&, int nv, int64_t r0, int64_t r1);

bool rows8_portable(const Packed8&, const Act8&, const void*, int64_t, int64_t, int64_t);
bool rows8_avx2(const Packed8&, const Act8&, const void*, int64_t, int64_t, int64_t);
bool rows8_avx512(const Packed8&, const Act8&, const void*, int64_t, int64_t, int64_t);
// CSR with quantized x, x as bytes (int8_spmv_vnni.cpp).
bool rows8_vnni_csr(const Packed8&, const Act8&, const void*, int64_t, int64_t, int64_t);
void tile8_portable(const Packed8&, const Act8&, const Tile8&, int, int64_t, int64_t);
void tile8_avx2(const Packed8&, const Act8&, const Tile8&, int, int64_t, int64_t);
void tile8_avx512(const Packed8&, const Act8&, const Tile8&, int, int64_t, int64_t);
// 1x4 blocks and 2:4 with quantized x only (vpdpbusd on uint8 tiles).
void tile8_vnni(const Packed8&, const Act8&, const Tile8&, int, int64_t, int64_t);

struct Isa8Fns {
  Rows8Fn rows;
  Rows8Fn vnni_csr_rows;  // rows8_vnni_csr, or null without VNNI
  Tile8Fn tile;        // float tiles
  Tile8Fn vnni_tile;   // tile8_vnni, or null without VNNI
  int lanes;           // floats per vector of the float tile kernels
};

// The kernels of selected_isa() / selected_vnni() (throws for a bad COMPRESSOR_SPARSE_ISA).
Isa8Fns isa8_fns();

// v as computed: a product passed through here is not fused with a following
// addition (the q8 results are specified as separate float32 operations, and
// GCC contracts a * b + c into an FMA wherever the target has one).
template <class T>
SPARSE8_INLINE T no_fuse(T v) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__("" : "+x"(v));
#else
  __asm__("" : "+m"(v));
#endif
  return v;
}

// The last stage of both modes for one output (see int8.h): acc is the float
// sum (w8) or the exact integer sum (q8).
SPARSE8_INLINE float epilogue_w8(float acc, const Act8& a, const Packed8& p, int64_t m) {
  float v = acc * p.scale[m];
  if (a.bias != nullptr) v = v + a.bias[m];
  return a.relu && v < 0.0f ? 0.0f : v;
}

SPARSE8_INLINE float epilogue_q8(int32_t acc, const Act8& a, const Packed8& p, int64_t n,
                                 int64_t m) {
  const float s = a.scale_of(n) * p.scale[m];
  float v = no_fuse(static_cast<float>(acc) * s);
  if (a.bias != nullptr) v = v + a.bias[m];
  return a.relu && v < 0.0f ? 0.0f : v;
}

}  // namespace compressor::cpu::sparse
