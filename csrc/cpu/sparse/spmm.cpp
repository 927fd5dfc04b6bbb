// The columns layout of the sparse engine (spmm, spmm_tile): each stored
// weight does vector FMAs over a tile of x columns (batch or pixels, contiguous):
// one broadcast, NV vector loads and NV FMAs per weight, several independent
// accumulators. A 4x1 block reuses each loaded x vector for four output rows; a
// 1x4 block shares one index among four weights. The weight streams are
// prefetched in software (linear layers): the hardware prefetchers stop at
// every 4 KB page and restart on every row.
//
// This file holds the per-ISA tile entry points (the kernels: generic.h) and
// the driver: tile width, copies of x tiles, work split over threads.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/sparse/generic.h"

namespace compressor::cpu::sparse {

// ---- per-ISA entry points -----------------------------------------------------------------

void tile_portable(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1) {
  tile_dispatch<f32x4>(w, o, nv, r0, r1);
}

unsigned max_col_portable(const uint16_t* col, int64_t n) { return max_col_generic(col, n); }

#if COMPRESSOR_SPARSE_X86

SPARSE_AVX2 void tile_avx2(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1) {
  tile_dispatch<f32x8>(w, o, nv, r0, r1);
}

SPARSE_AVX2 unsigned max_col_avx2(const uint16_t* col, int64_t n) { return max_col_generic(col, n); }

SPARSE_AVX512 void tile_avx512(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1) {
  tile_dispatch<f32x16>(w, o, nv, r0, r1);
}

SPARSE_AVX512 unsigned max_col_avx512(const uint16_t* col, int64_t n) {
  return max_col_generic(col, n);
}

#endif  // COMPRESSOR_SPARSE_X86

// ---- tiles of x ---------------------------------------------------------------------------

namespace {

// Vectors per column tile: wide tiles amortise the per-weight work (index,
// broadcast) over more FMAs, within the register file (R x NV accumulators);
// the K' x tile slice of x, read once per output row, should stay in L2.
int choose_nv(const Packed& w, int64_t N, int lanes) {
  const int64_t vectors = (N + lanes - 1) / lanes;
  const int max_nv = max_tile_nv(w, lanes);
  int nv = env_int("COMPRESSOR_SPARSE_NV", 0);
  if (nv == 1 || nv == 2 || nv == 4 || nv == 8) return std::min(nv, max_nv);
  // 1x4 blocks read 4 consecutive x rows per index and prefer tiles twice as wide
  // (measured at batch 64 / 256 on 4096 x 4096: 6.0 / 24 ms vs 8.3 / 35 ms).
  const int64_t x_budget =
      int64_t{env_int("COMPRESSOR_SPARSE_TILE_KB", 512)} * 1024 * (w.C == 4 ? 2 : 1);
  nv = 1;
  while (2 * nv <= max_nv && 2 * nv <= vectors && w.padded_k() * lanes * 2 * nv * 4 <= x_budget) {
    nv *= 2;
  }
  return nv;
}

// dst[j, i] = src[i, j] for a 4x4 block (rows strided by lds / ldd).
SPARSE_INLINE void transpose4x4(const float* src, int64_t lds, float* dst, int64_t ldd) {
  const f32x4 r0 = vload<f32x4>(src), r1 = vload<f32x4>(src + lds);
  const f32x4 r2 = vload<f32x4>(src + 2 * lds), r3 = vload<f32x4>(src + 3 * lds);
  const f32x4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);
  const f32x4 t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
  const f32x4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
  const f32x4 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
  vstore<f32x4>(dst, __builtin_shufflevector(t0, t2, 0, 1, 4, 5));
  vstore<f32x4>(dst + ldd, __builtin_shufflevector(t0, t2, 2, 3, 6, 7));
  vstore<f32x4>(dst + 2 * ldd, __builtin_shufflevector(t1, t3, 0, 1, 4, 5));
  vstore<f32x4>(dst + 3 * ldd, __builtin_shufflevector(t1, t3, 2, 3, 6, 7));
}

// dst[j, i] = src[i, j] for i < rows, j < cols, in 4x4 blocks (edges one by one).
// The long side is walked in the inner loop: four sequential streams on the
// (large, uncached) rows side, short strides on the tile side (in L2).
void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  const int64_t r4 = rows / 4 * 4, c4 = cols / 4 * 4;
  if (cols >= rows) {
    for (int64_t i = 0; i < r4; i += 4)
      for (int64_t j = 0; j < c4; j += 4) transpose4x4(src + i * lds + j, lds, dst + j * ldd + i, ldd);
  } else {
    for (int64_t j = 0; j < c4; j += 4)
      for (int64_t i = 0; i < r4; i += 4) transpose4x4(src + i * lds + j, lds, dst + j * ldd + i, ldd);
  }
  for (int64_t i = 0; i < r4; ++i)
    for (int64_t j = c4; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
  for (int64_t i = r4; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

// xs[k, n] = x[n, k] for n < width, k < K (x rows strided by ldx); zeros in the
// padding columns (n >= width) and rows (K <= k < K_rows).
void tile_from_rows(const float* x, int64_t ldx, int64_t width, int64_t K, float* xs, int64_t ld,
                    int64_t K_rows) {
  transpose(x, ldx, width, K, xs, ld);
  if (width < ld) {
    for (int64_t k = 0; k < K; ++k) std::memset(xs + k * ld + width, 0, (ld - width) * sizeof(float));
  }
  std::memset(xs + K * ld, 0, (K_rows - K) * ld * sizeof(float));
}

}  // namespace

// ---- spmm ---------------------------------------------------------------------------------

bool spmm(const Packed& w, const Operands& o) {
  if (w.M == 0 || o.N == 0) return false;
  const IsaFns fns = isa_fns();
  if (!w.nm24 && w.nnz() > 0 && fns.max_col(w.col, w.nnz()) >= w.kb) return true;
  const int L = fns.lanes;
  const int nv = choose_nv(w, o.N, L);
  const int64_t tile = int64_t{nv} * L;
  const int64_t tiles = (o.N + tile - 1) / tile;
  const int64_t macs = w.nnz() * o.N;
  const int64_t parts = chunk_count(w, macs, tiles);
  const std::vector<int64_t> bounds = balanced_chunks(w, parts);
  const int64_t K_rows = w.padded_k();
  const int64_t items = tiles * parts;

  // Each column tile of x is copied to a contiguous [K', tile] buffer (rows of x
  // at a large power-of-two stride would fall into a few cache sets), transposed
  // on the way when x comes in rows. The partial last tile is zero-padded to
  // whole vectors; it and tiles of a rows-layout y are computed into a scratch
  // buffer and copied (transposed) out.
  // Width of tile t: all but the last are full; the last is rounded up to a
  // power-of-two number of vectors.
  auto tile_ld = [&](int64_t t) {
    const int64_t width = std::min(tile, o.N - t * tile);
    int tnv = nv;
    if (width < tile) {
      tnv = 1;
      while (int64_t{tnv} * L < width) tnv *= 2;
    }
    return int64_t{tnv} * L;
  };
  auto needs_copy = [&](int64_t t) {
    return o.x_rows || o.ldx != tile_ld(t) || std::min(tile, o.N - t * tile) != tile_ld(t);
  };
  auto copy_tile = [&](int64_t t, float* xs) {
    const int64_t n0 = t * tile, width = std::min(tile, o.N - n0), ld = tile_ld(t);
    if (o.x_rows) return tile_from_rows(o.x + n0 * o.ldx, o.ldx, width, w.K, xs, ld, K_rows);
    for (int64_t k = 0; k < K_rows; ++k) {
      std::memcpy(xs + k * ld, o.x + k * o.ldx + n0, width * sizeof(float));
      std::memset(xs + k * ld + width, 0, (ld - width) * sizeof(float));
    }
  };
  // With several row chunks per tile (threads), the tiles are copied once up front
  // and shared; otherwise each is copied right before use (still in cache).
  float* shared = nullptr;
  if (parts > 1) {
    shared = scratch(Scratch::kShared, tiles * tile * K_rows);
    at::parallel_for(0, tiles, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        if (needs_copy(t)) copy_tile(t, shared + t * tile * K_rows);
      }
    });
  }

  at::parallel_for(0, items, macs < kParallelMacs ? items : 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / parts, p = item % parts;
      const int64_t r0 = bounds[p], r1 = bounds[p + 1];
      if (r0 == r1) continue;
      const int64_t n0 = t * tile, width = std::min(tile, o.N - n0), ld = tile_ld(t);
      const int tnv = static_cast<int>(ld / L);
      Operands ot = o;
      if (!needs_copy(t)) {
        ot.x = o.x + n0;
      } else if (parts > 1) {
        ot.x = shared + t * tile * K_rows;
        ot.ldx = ld;
      } else {
        float* xs = scratch(Scratch::kXTile, K_rows * ld);
        copy_tile(t, xs);
        ot.x = xs;
        ot.ldx = ld;
      }
      const bool scratch_y = width < ld || o.y_rows;
      float* ys = scratch_y ? scratch(Scratch::kYTile, w.M * ld) : nullptr;
      if (scratch_y) {
        ot.y = ys;
        ot.ldy = ld;
      } else {
        ot.y = o.y + n0;
      }
      fns.tile(w, ot, tnv, r0, r1);
      if (scratch_y) {
        const int64_t R = w.nm24 ? 1 : w.R;
        const int64_t m0 = r0 * R, m1 = std::min(r1 * R, w.M);
        if (o.y_rows) {
          transpose(ys + m0 * ld, ld, m1 - m0, width, o.y + n0 * o.ldy + m0, o.ldy);
        } else {
          for (int64_t m = m0; m < m1; ++m) {
            std::memcpy(o.y + m * o.ldy + n0, ys + m * ld, width * sizeof(float));
          }
        }
      }
    }
    release_scratch(Scratch::kXTile);
    release_scratch(Scratch::kYTile);
  });
  if (shared != nullptr) release_scratch(Scratch::kShared);
  return false;
}

int spmm_lanes() { return isa_fns().lanes; }

int spmm_max_nv(const Packed& w) { return max_tile_nv(w, spmm_lanes()); }

bool spmm_columns_bad(const Packed& w) {
  return !w.nm24 && w.nnz() > 0 && isa_fns().max_col(w.col, w.nnz()) >= w.kb;
}

std::vector<int64_t> spmm_row_chunks(const Packed& w, int64_t parts) {
  return balanced_chunks(w, std::max<int64_t>(1, std::min(parts, row_units(w))));
}

void spmm_tile(const Packed& w, const Operands& o, int nv, int64_t r0, int64_t r1) {
  isa_fns().tile(w, o, nv, r0, r1);
}

}  // namespace compressor::cpu::sparse
