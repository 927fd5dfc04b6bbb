// Shared internals of the sparse engine's sources (not for operator code; the
// interface is engine.h): the per-ISA kernel table and the work split.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "cpu/isa.h"
#include "cpu/sparse/engine.h"

// The AVX2 / AVX-512 kernels are built with GCC's x86 target attributes and intrinsics.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define COMPRESSOR_SPARSE_X86 1
#else
#define COMPRESSOR_SPARSE_X86 0
#endif

namespace compressor::cpu::sparse {

// ---- per-ISA kernels ----------------------------------------------------------------------

// Columns layout: row units [r0, r1) over one column tile of nv vectors (spmm_tile's contract).
using TileFn = void (*)(const Packed&, const Operands&, int nv, int64_t r0, int64_t r1);
// Rows layout: row units [r0, r1) for every row of x; true when a column was out of range.
using RowsFn = bool (*)(const Packed&, const Operands&, int64_t r0, int64_t r1);
// The largest of n stored block columns (0 when n == 0).
using MaxColFn = unsigned (*)(const uint16_t* col, int64_t n);

// One entry function per ISA, each compiled with that ISA's target attribute
// (the generic kernels of generic.h inline into them): spmm.cpp defines the
// tile and max_col entries, spmv.cpp the rows entries. The x86 ones exist only
// when COMPRESSOR_SPARSE_X86.
void tile_portable(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1);
void tile_avx2(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1);
void tile_avx512(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1);
unsigned max_col_portable(const uint16_t* col, int64_t n);
unsigned max_col_avx2(const uint16_t* col, int64_t n);
unsigned max_col_avx512(const uint16_t* col, int64_t n);
bool rows_portable(const Packed& w, const Operands& o, int64_t r0, int64_t r1);
bool rows_avx2(const Packed& w, const Operands& o, int64_t r0, int64_t r1);
bool rows_avx512(const Packed& w, const Operands& o, int64_t r0, int64_t r1);

struct IsaFns {
  TileFn tile;
  RowsFn rows;
  MaxColFn max_col;
  int lanes;  // floats per vector of the columns layout
};

// The widest column tile, in vectors, that the register file holds for w
// (R x NV accumulators; 4x1 blocks need four rows).
inline int max_tile_nv(const Packed& w, int lanes) {
  return w.R == 4 ? (lanes == 16 ? 4 : 2) : (lanes == 16 ? 8 : 4);
}

// The kernels of selected_isa() (throws for a bad COMPRESSOR_SPARSE_ISA; dispatch.cpp).
IsaFns isa_fns();

// ---- work split (split.cpp) ---------------------------------------------------------------

// Row units: block rows (BSR) or rows (2:4).
inline int64_t row_units(const Packed& w) { return w.nm24 ? w.M : (w.M + w.R - 1) / w.R; }

// Below this many multiply-adds a call stays on the calling thread.
constexpr int64_t kParallelMacs = 1 << 18;

// Boundaries of `parts` row-unit chunks of about equal work (stored weights plus
// a fixed cost per row unit); parts <= row_units(w).
std::vector<int64_t> balanced_chunks(const Packed& w, int64_t parts);

// Row chunks for `macs` multiply-adds when the other dimension splits into
// other_items: 1 below kParallelMacs or on one thread, 1 when other_items
// already gives every thread work, else a few per thread.
int64_t chunk_count(const Packed& w, int64_t macs, int64_t other_items);

// An integer tuning knob from the environment (benchmarks), or fallback when unset or empty.
inline int env_int(const char* name, int fallback) {
  const char* env = std::getenv(name);
  return env != nullptr && *env != '\0' ? std::atoi(env) : fallback;
}

}  // namespace compressor::cpu::sparse
