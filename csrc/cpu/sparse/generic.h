// The ISA-neutral kernels of the sparse engine, written once with GCC vector
// types: columns layout (a stored weight times a tile of x columns) and rows
// layout (a weight row times one row of x, the scalar and 4-lane fallbacks).
//
// Everything here is always_inline and has internal linkage: it is inlined into
// the per-ISA entry functions of spmm.cpp / spmv.cpp, which carry a target
// attribute (SPARSE_AVX2, SPARSE_AVX512, none for portable), so the same source
// becomes AVX-512 (16 lanes), AVX2+FMA (8 lanes) or baseline SSE2 (4 lanes)
// code. Nothing is a template instantiated under a target attribute out of
// line, so no ISA-specific code can leak into another translation unit's (or
// CPU's) call paths.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/sparse/internal.h"

// Vector types only cross always_inline calls (no ABI involved); GCC 12's
// AVX-512 headers trip -Wmaybe-uninitialized on their own undefined registers.
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#ifndef COMPRESSOR_SPARSE_PF
#define COMPRESSOR_SPARSE_PF 512
#endif

#define SPARSE_INLINE __attribute__((always_inline)) inline

#if COMPRESSOR_SPARSE_X86
// Target attributes of the per-ISA entry functions.
#define SPARSE_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,popcnt,f16c")))
#define SPARSE_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt,f16c")))
#endif

namespace compressor::cpu::sparse {
namespace {

// ---- generic columns-layout kernels (GCC vector types) ----------------------------------

typedef float f32x16 __attribute__((vector_size(64)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));

template <class V>
constexpr int kLanes = sizeof(V) / sizeof(float);

template <class V>
SPARSE_INLINE V vload(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}

template <class V>
SPARSE_INLINE void vstore(float* p, const V& v) {
  __builtin_memcpy(p, &v, sizeof(V));
}

// A stored block column of the rows layout, clamped to the last valid one (a
// clamp sets `bad`): the gathers there are fused with the range check, which
// costs nothing on a bandwidth-bound pass. The columns layout checks all
// columns once per call instead (max_col), before any x is read.
SPARSE_INLINE int64_t block_col(const Packed& w, int64_t b, bool& bad) {
  const unsigned c = w.col[b], last = static_cast<unsigned>(w.kb - 1);
  bad |= c > last;
  return c > last ? last : c;
}

// The largest stored block column (0 when none); vectorised per ISA.
SPARSE_INLINE unsigned max_col_generic(const uint16_t* col, int64_t n) {
  uint16_t m = 0;
  for (int64_t i = 0; i < n; ++i) m = col[i] > m ? col[i] : m;
  return m;
}

// Where row k of x starts: o.x + k * o.ldx (strided) or o.x + o.x_off[k] (Table,
// the direct convolution's shifted rows). Copied out of Operands so that the
// compiler need not reload them after every store to y.
template <bool Table>
struct XRows {
  const float* x;
  int64_t ldx;
  const int32_t* off;
  explicit XRows(const Operands& o) : x(o.x), ldx(o.ldx), off(o.x_off) {}
  SPARSE_INLINE const float* row(int64_t k) const {
    if constexpr (Table) {
      return x + off[k];
    } else {
      return x + k * ldx;
    }
  }
};

// acc[(u + c) % U][r][v] += w[r][c] * x[k0 + c][v] over one R x C block: the
// columns of a 1x4 block go to different accumulator sets, so its four FMAs per
// vector do not wait for each other.
template <class V, int NV, int R, int C, int U, bool T>
SPARSE_INLINE void block_fma(V (&acc)[U][R][NV], int u, const float* wv, const XRows<T>& xs,
                             int64_t k0) {
  constexpr int L = kLanes<V>;
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    V xv[NV];
    const float* xr = xs.row(k0 + c);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) xv[v] = vload<V>(xr + v * L);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const float s = wv[r * C + c];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[(u + c) % U][r][v] += s * xv[v];
    }
  }
}

// Bias, ReLU (NaN stays NaN, as torch.relu) and store of one row.
template <class V, int NV>
SPARSE_INLINE void store_row(const V (&acc)[NV], const Operands& o, int64_t row) {
  constexpr int L = kLanes<V>;
  const float b = o.bias != nullptr ? o.bias[row] : 0.0f;
  float* yr = o.y + row * o.ldy;
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    V a = acc[v] + b;
    if (o.relu) a = a < 0.0f ? V{} : a;
    vstore<V>(yr + v * L, a);
  }
}

// acc[r] = y rows row0 + r (r < R, rows < M): the partial sums of earlier column chunks.
template <class V, int NV, int R>
SPARSE_INLINE void load_rows(V (&acc)[R][NV], const Operands& o, int64_t row0, int64_t M) {
  constexpr int L = kLanes<V>;
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    if (R > 1 && row0 + r >= M) break;
    const float* yr = o.y + (row0 + r) * o.ldy;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = vload<V>(yr + v * L);
  }
}

// Independent accumulator sets so that short tiles still hide the FMA latency.
template <int Regs>
constexpr int kUnroll = Regs >= 4 ? 1 : (Regs >= 2 ? 2 : 4);

// Software prefetch distance of the columns layout, in floats of values / entries
// of col: the hardware prefetchers lose the weight streams at every 4 KB page and
// on each new row (4096 x 4096 at 60%, batch 64: 20 ms with it, 34 ms without).
constexpr int kPrefetchAhead = COMPRESSOR_SPARSE_PF;

// Block rows [br0, br1) of a BSR weight over one column tile of NV vectors: U
// accumulator sets, fed by U blocks per step (1x1, 4x1) or by the 4 columns of
// one block (1x4).
template <class V, int NV, int R, int C, bool T>
SPARSE_INLINE void bsr_tile(const Packed& w, const Operands& o, int64_t br0, int64_t br1) {
  constexpr int U = C > 1 && C * NV <= 8 ? C : kUnroll<R * NV>;
  constexpr int S = C > 1 ? 1 : U;  // blocks per step
  const int64_t M = w.M;
  const XRows<T> xs(o);
  const float* const vals = w.values;
  const uint16_t* const col = w.col;
  const int64_t* const row_ptr = w.row_ptr;
  // Blocks of block row br: [seg[br * stride], seg[br * stride + 1]) (a column range
  // of it for spmm_tile's column chunks, else row_ptr).
  const int64_t* const seg = o.seg != nullptr ? o.seg : row_ptr;
  const int64_t stride = o.seg != nullptr ? o.seg_stride : 1;
  const bool y_in = o.y_in;
  for (int64_t br = br0; br < br1; ++br) {
    V acc[U][R][NV];
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u)
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[u][r][v] = V{};
    if (y_in) load_rows<V, NV, R>(acc[0], o, br * R, M);
    int64_t b = seg[br * stride];
    const int64_t e = seg[br * stride + 1];
    for (; b + S <= e; b += S) {
      if constexpr (!T) {  // the weights stream from memory (linear layers; PF env: tuning)
        __builtin_prefetch(vals + b * (R * C) + kPrefetchAhead, 0, 0);
        __builtin_prefetch(col + b + kPrefetchAhead, 0, 0);
      }
#pragma GCC unroll 4
      for (int u = 0; u < S; ++u) {
        block_fma<V, NV, R, C, U, T>(acc, u, vals + (b + u) * (R * C), xs,
                                     int64_t{col[b + u]} * C);
      }
    }
    for (; b < e; ++b) {
      block_fma<V, NV, R, C, U, T>(acc, 0, vals + b * (R * C), xs, int64_t{col[b]} * C);
    }
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u)
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[0][r][v] += acc[u][r][v];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      if (R > 1 && br * R + r >= M) break;
      store_row<V, NV>(acc[0][r], o, br * R + r);
    }
  }
}

// RB rows of a 2:4 weight from row r0, over one column tile, in lockstep: all
// rows walk the groups together, so the 4 x rows of a group are loaded from
// L2 once and reused from L1 by every row of the block.
template <class V, int NV, int RB, bool T>
SPARSE_INLINE void nm24_rows(const Packed& w, const Operands& o, int64_t r0) {
  const int64_t G = w.G;
  const XRows<T> xs(o);
  const uint8_t* const pos = w.pos + r0 * G;
  const float* const vals = w.values + r0 * G * 2;
  V acc[RB][2][1][NV];
#pragma GCC unroll 8
  for (int i = 0; i < RB; ++i)
    for (int u = 0; u < 2; ++u)
      for (int v = 0; v < NV; ++v) acc[i][u][0][v] = V{};
  if (o.y_in) {
#pragma GCC unroll 8
    for (int i = 0; i < RB; ++i) load_rows<V, NV, 1>(acc[i][0], o, r0 + i, r0 + i + 1);
  }
  const int64_t g_end = o.g_end >= 0 ? std::min(o.g_end, G) : G;
  for (int64_t g = o.g_begin; g < g_end; ++g) {
#pragma GCC unroll 8
    for (int i = 0; i < RB; ++i) {
      const unsigned p = pos[i * G + g];
      const float* wv = vals + (i * G + g) * 2;
      block_fma<V, NV, 1, 1, 2, T>(acc[i], 0, wv, xs, 4 * g + (p & 3));
      block_fma<V, NV, 1, 1, 2, T>(acc[i], 1, wv + 1, xs, 4 * g + (p >> 2 & 3));
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < RB; ++i) {
    for (int v = 0; v < NV; ++v) acc[i][0][0][v] += acc[i][1][0][v];
    store_row<V, NV>(acc[i][0][0], o, r0 + i);
  }
}

// Rows [r0, r1) of a 2:4 weight: blocks of RB rows (RB x NV x 2 accumulators
// fill the register file), the rest one by one.
template <class V, int NV, bool T>
SPARSE_INLINE void nm24_tile(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  constexpr int kRegs = kLanes<V> == 16 ? 16 : 8;  // accumulator registers to spend
  constexpr int RB = kRegs / (2 * NV) > 8 ? 8 : (kRegs / (2 * NV) < 1 ? 1 : kRegs / (2 * NV));
  int64_t r = r0;
  if constexpr (RB > 1) {
    for (; r + RB <= r1; r += RB) nm24_rows<V, NV, RB, T>(w, o, r);
  }
  for (; r < r1; ++r) nm24_rows<V, NV, 1, T>(w, o, r);
}

// Column tiles hold NV vectors; the engine picks NV in {1, 2, 4, 8} (at most 4 for 4x1).
template <class V, int NV, bool T>
SPARSE_INLINE void tile_nv(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  if (w.nm24) {
    nm24_tile<V, NV, T>(w, o, r0, r1);
  } else if (w.R == 4) {
    if constexpr (NV <= 4) bsr_tile<V, NV, 4, 1, T>(w, o, r0, r1);
  } else if (w.C == 4) {
    bsr_tile<V, NV, 1, 4, T>(w, o, r0, r1);
  } else {
    bsr_tile<V, NV, 1, 1, T>(w, o, r0, r1);
  }
}

template <class V, bool T>
SPARSE_INLINE void tile_dispatch_t(const Packed& w, const Operands& o, int nv, int64_t r0,
                                   int64_t r1) {
  switch (nv) {
    case 1:
      return tile_nv<V, 1, T>(w, o, r0, r1);
    case 2:
      return tile_nv<V, 2, T>(w, o, r0, r1);
    case 4:
      return tile_nv<V, 4, T>(w, o, r0, r1);
    default:
      return tile_nv<V, 8, T>(w, o, r0, r1);
  }
}

// x rows strided by o.ldx, or at the offsets o.x_off (see Operands).
template <class V>
SPARSE_INLINE void tile_dispatch(const Packed& w, const Operands& o, int nv, int64_t r0,
                                 int64_t r1) {
  if (o.x_off != nullptr) return tile_dispatch_t<V, true>(w, o, nv, r0, r1);
  tile_dispatch_t<V, false>(w, o, nv, r0, r1);
}

// ---- generic rows-layout kernels (scalar; the compiler vectorises what it can) ----------

// A CSR row for one x row: four scalar accumulators.
SPARSE_INLINE float csr_row_scalar(const Packed& w, const float* x, int64_t r, bool& bad) {
  float acc[4] = {};
  int64_t b = w.row_ptr[r];
  const int64_t e = w.row_ptr[r + 1];
  for (; b + 4 <= e; b += 4) {
    for (int u = 0; u < 4; ++u) acc[u] += w.values[b + u] * x[block_col(w, b + u, bad)];
  }
  for (; b < e; ++b) acc[0] += w.values[b] * x[block_col(w, b, bad)];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// A block row of 4x1 or 1x4 blocks for one x row, a 4-lane vector per block (no
// gathers): 4x1 multiplies the block's 4 weights by x[col] (lane r = output r),
// 1x4 by the 4 consecutive x from 4 * col (lanes summed at the end).
template <int R, int C>
SPARSE_INLINE f32x4 block_row4(const Packed& w, const float* x, int64_t br, bool& bad) {
  static_assert(R * C == 4, "4x1 or 1x4 blocks");
  f32x4 acc[4] = {};
  int64_t b = w.row_ptr[br];
  const int64_t e = w.row_ptr[br + 1];
  for (; b + 4 <= e; b += 4) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const int64_t c = block_col(w, b + u, bad);
      const f32x4 wv = vload<f32x4>(w.values + (b + u) * 4);
      acc[u] += C == 1 ? wv * x[c] : wv * vload<f32x4>(x + c * 4);
    }
  }
  for (; b < e; ++b) {
    const int64_t c = block_col(w, b, bad);
    const f32x4 wv = vload<f32x4>(w.values + b * 4);
    acc[0] += C == 1 ? wv * x[c] : wv * vload<f32x4>(x + c * 4);
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

SPARSE_INLINE float nm24_row_scalar(const Packed& w, const float* x, int64_t r) {
  const uint8_t* pos = w.pos + r * w.G;
  const float* wv = w.values + r * w.G * 2;
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t g = 0;
  for (; g + 2 <= w.G; g += 2) {
    const unsigned p0 = pos[g], p1 = pos[g + 1];
    a0 += wv[2 * g] * x[4 * g + (p0 & 3)];
    a1 += wv[2 * g + 1] * x[4 * g + (p0 >> 2 & 3)];
    a2 += wv[2 * g + 2] * x[4 * g + 4 + (p1 & 3)];
    a3 += wv[2 * g + 3] * x[4 * g + 4 + (p1 >> 2 & 3)];
  }
  for (; g < w.G; ++g) {
    const unsigned p = pos[g];
    a0 += wv[2 * g] * x[4 * g + (p & 3)];
    a1 += wv[2 * g + 1] * x[4 * g + (p >> 2 & 3)];
  }
  return (a0 + a1) + (a2 + a3);
}

SPARSE_INLINE float epilogue(float v, const Operands& o, int64_t row) {
  if (o.bias != nullptr) v += o.bias[row];
  if (o.relu && v < 0.0f) v = 0.0f;
  return v;
}

// Output rows (block rows for BSR) [r0, r1) for every x row.
SPARSE_INLINE bool rows_scalar(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  bool bad = false;
  for (int64_t n = 0; n < o.N; ++n) {
    const float* x = o.x + n * o.ldx;
    float* y = o.y + n * o.ldy;
    if (w.nm24) {
      for (int64_t r = r0; r < r1; ++r) y[r] = epilogue(nm24_row_scalar(w, x, r), o, r);
    } else if (w.R == 4) {
      for (int64_t br = r0; br < r1; ++br) {
        const f32x4 a = block_row4<4, 1>(w, x, br, bad);
        for (int r = 0; r < 4 && br * 4 + r < w.M; ++r) {
          y[br * 4 + r] = epilogue(a[r], o, br * 4 + r);
        }
      }
    } else if (w.C == 4) {
      for (int64_t r = r0; r < r1; ++r) {
        const f32x4 a = block_row4<1, 4>(w, x, r, bad);
        y[r] = epilogue((a[0] + a[1]) + (a[2] + a[3]), o, r);
      }
    } else {
      for (int64_t r = r0; r < r1; ++r) y[r] = epilogue(csr_row_scalar(w, x, r, bad), o, r);
    }
  }
  return bad;
}

}  // namespace
}  // namespace compressor::cpu::sparse
