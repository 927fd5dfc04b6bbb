// The compute engine of the sparse inference kernels: packed sparse weight times
// dense activations, in three instruction-set variants picked at run time.
//
// Columns layout (spmm, batch >= 2 and convolutions): the activations arrive as
// x[K, N] with N (batch or pixels) contiguous, so each stored weight does vector
// FMAs over a tile of N: one broadcast, NV vector loads and NV FMAs per weight,
// several independent accumulators. A 4x1 block reuses each loaded x vector for
// four output rows; a 1x4 block shares one index among four weights.
//
// Rows layout (spmv, batch 1): bandwidth-bound, so the weight bytes decide the
// speed: 4-byte values with 2-byte indices (CSR), 1 byte per 2 values (2:4). For
// CSR (AVX2 / AVX-512) x is copied into a buffer of 65536 floats, so that every
// 16-bit column reads inside it, and assembled from scalar loads (vinsertps),
// which beat 8-wide gathers here; the largest column is tracked on the way and a
// bad one reported after the pass. The
// columns of a 4x1 block row are range-checked once, vectorised, then x is
// broadcast per block; a row with a bad column takes the clamping kernel. Software
// prefetch of the weight streams in both.
// x is read as 4-float vectors for 1x4 blocks and picked from a 32-float window
// by permutes for 2:4 (AVX-512).
//
// Both layouts prefetch the weights in software (linear layers): the hardware
// prefetchers stop at every 4 KB page and restart on every row.
//
// The generic kernels are written once with GCC vector types and inlined
// (always_inline) into one entry function per ISA that carries a target
// attribute, so the same source becomes AVX-512 (16 lanes), AVX2+FMA (8 lanes)
// or baseline SSE2 (4 lanes) code. Nothing here is a template instantiated
// under a target attribute out of line, so no ISA-specific code can leak into
// another translation unit's (or CPU's) call paths.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

// Vector types only cross always_inline calls (no ABI involved); GCC 12's
// AVX-512 headers trip -Wmaybe-uninitialized on their own undefined registers.
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define COMPRESSOR_SPARSE_X86 1
#else
#define COMPRESSOR_SPARSE_X86 0
#endif

#include "cpu/isa.h"
#include "ops/cpu/sparse_kernel.h"

#ifndef COMPRESSOR_SPARSE_PF
#define COMPRESSOR_SPARSE_PF 512
#endif

namespace compressor::cpu::sparse {

namespace {

#define SPARSE_INLINE __attribute__((always_inline)) inline

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

// ---- per-ISA entry points ---------------------------------------------------------------

using TileFn = void (*)(const Packed&, const Operands&, int, int64_t, int64_t);
using RowsFn = bool (*)(const Packed&, const Operands&, int64_t, int64_t);
using MaxColFn = unsigned (*)(const uint16_t*, int64_t);

void tile_portable(const Packed& w, const Operands& o, int nv, int64_t r0,
                   int64_t r1) {
  tile_dispatch<f32x4>(w, o, nv, r0, r1);
}

unsigned max_col_portable(const uint16_t* col, int64_t n) { return max_col_generic(col, n); }

bool rows_portable(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  return rows_scalar(w, o, r0, r1);
}

#if COMPRESSOR_SPARSE_X86

#define SPARSE_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,popcnt,f16c")))
#define SPARSE_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt,f16c")))

SPARSE_AVX2 void tile_avx2(const Packed& w, const Operands& o, int nv, int64_t r0,
                           int64_t r1) {
  tile_dispatch<f32x8>(w, o, nv, r0, r1);
}

SPARSE_AVX2 unsigned max_col_avx2(const uint16_t* col, int64_t n) { return max_col_generic(col, n); }

SPARSE_AVX2 SPARSE_INLINE __m256i load_cols8(const uint16_t* p) {
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Software prefetch distances of the batch-1 kernels, in bytes of values ahead
// (col at the same weight): the weights stream from memory once per call. Measured
// on 4096 x 4096, each call after a dense F.linear that evicts the weights: CSR at
// 60-70% is fastest 16 KB ahead into L2 (60%: 2.6-3.1 ms; 4.6 ms with no software
// prefetch, 3.1-3.7 ms 4 KB ahead into L1); rows of up to ~3 KB of values (80-95%
// at 4096 inputs) are fastest 4 KB ahead into L1 (90%: 0.76-0.78 ms vs 0.81-0.87
// 16 KB into L2, 0.85 none; 95%: 0.48-0.54 vs 0.47-0.58 / 0.55). 4x1 into L2.
constexpr int kRowsPrefetchCsrFar = 16384;
constexpr int kRowsPrefetchCsrNear = 4096;
constexpr int64_t kRowsNearBytes = 3072;  // average values bytes per row for the near distance
constexpr int kRowsPrefetch4x1 = 8192;

// True when all n stored columns are < kb (16 per step, one compare at the end).
SPARSE_AVX2 SPARSE_INLINE bool cols_in_range(const uint16_t* col, int64_t n, int64_t kb) {
  if (kb >= 65536) return true;
  const unsigned last = static_cast<unsigned>(kb - 1);
  __m256i m = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m = _mm256_max_epu16(m, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(col + i)));
  }
  for (; i < n; ++i) {
    if (col[i] > last) return false;
  }
  const __m256i lv = _mm256_set1_epi16(static_cast<short>(last));
  return _mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_max_epu16(m, lv), lv)) == -1;
}

// CSR row whose columns were checked: x assembled from scalar loads (vinsertps;
// faster than 8-wide gathers here, and than mixing gathers in or merging
// broadcasts by blends), 8 columns from one pair of 64-bit index loads, vector
// FMAs with the values, two accumulators.
SPARSE_AVX2 SPARSE_INLINE __m128 x4_at(const float* x, uint64_t c) {
  __m128 v = _mm_load_ss(x + (c & 0xffff));
  v = _mm_insert_ps(v, _mm_load_ss(x + (c >> 16 & 0xffff)), 0x10);
  v = _mm_insert_ps(v, _mm_load_ss(x + (c >> 32 & 0xffff)), 0x20);
  return _mm_insert_ps(v, _mm_load_ss(x + (c >> 48)), 0x30);
}

SPARSE_AVX2 SPARSE_INLINE __m256 x8_at(const float* x, const uint16_t* col) {
  uint64_t c0, c1;
  std::memcpy(&c0, col, 8);
  std::memcpy(&c1, col + 4, 8);
  return _mm256_insertf128_ps(_mm256_castps128_ps256(x4_at(x, c0)), x4_at(x, c1), 1);
}

// The largest column is tracked on the way (8 lanes of 16 bits in `top`) instead of a
// separate range-check pass over the row: x is a copy padded to 65536 floats, so any
// 16-bit column reads inside it, and a column >= in_features is reported after the
// pass (4096 x 4096 at 70-95%, weights evicted by a dense F.linear between calls:
// 3-9% faster than a range-check pass first).
template <bool Near>
SPARSE_AVX2 SPARSE_INLINE float csr_row_loads(const float* vals, const uint16_t* col, int64_t n,
                                              const float* x, __m128i& top) {
  constexpr int ahead = Near ? kRowsPrefetchCsrNear : kRowsPrefetchCsrFar;
  constexpr _mm_hint hint = Near ? _MM_HINT_T0 : _MM_HINT_T1;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 16 <= n; b += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(vals + b) + ahead, hint);
    _mm_prefetch(reinterpret_cast<const char*>(col + b) + ahead / 2, hint);
    top = _mm_max_epu16(top, _mm_max_epu16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(col + b)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + b + 8))));
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + b), x8_at(x, col + b), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + b + 8), x8_at(x, col + b + 8), a1);
  }
  if (b + 8 <= n) {
    top = _mm_max_epu16(top, _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + b)));
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(vals + b), x8_at(x, col + b), a0);
    b += 8;
  }
  const __m256 s8 = _mm256_add_ps(a0, a1);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  float s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  for (; b < n; ++b) {
    top = _mm_max_epu16(top, _mm_set1_epi16(static_cast<short>(col[b])));
    s += vals[b] * x[col[b]];
  }
  return s;
}

// The padded copy of x for csr_row_loads: 65536 floats per thread, zeroed once (the
// entries past in_features are only ever read for a column that is reported as bad).
constexpr int64_t kPaddedX = 65536;
float* padded_x() {
  thread_local std::unique_ptr<float[]> buf;
  if (!buf) buf.reset(new float[kPaddedX]());
  return buf.get();
}

SPARSE_AVX2 SPARSE_INLINE unsigned max_lane(__m128i top) {
  alignas(16) uint16_t lanes[8];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), top);
  return *std::max_element(lanes, lanes + 8);
}

// 4x1 block row whose columns were checked: two blocks per 8-lane FMA, [x[c0] x4,
// x[c1] x4] times the two blocks' 8 weights; indices 4 at a time, 4 accumulators.
SPARSE_AVX2 SPARSE_INLINE f32x4 block4x1_row_pairs(const float* vals, const uint16_t* col,
                                                   int64_t n, const float* x) {
  __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t b = 0;
  for (; b + 8 <= n; b += 8) {
    _mm_prefetch(reinterpret_cast<const char*>(vals + b * 4) + kRowsPrefetch4x1, _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(vals + b * 4) + kRowsPrefetch4x1 + 64, _MM_HINT_T1);
    _mm_prefetch(reinterpret_cast<const char*>(col + b) + kRowsPrefetch4x1 / 8, _MM_HINT_T1);
    uint64_t c0, c1;
    std::memcpy(&c0, col + b, 8);
    std::memcpy(&c1, col + b + 4, 8);
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const uint64_t c = u < 2 ? c0 : c1;
      const int sh = (u & 1) * 32;
      const __m256 xv = _mm256_insertf128_ps(
          _mm256_castps128_ps256(_mm_broadcast_ss(x + (c >> sh & 0xffff))),
          _mm_broadcast_ss(x + (c >> (sh + 16) & 0xffff)), 1);
      a[u] = _mm256_fmadd_ps(_mm256_loadu_ps(vals + (b + 2 * u) * 4), xv, a[u]);
    }
  }
  const __m256 s8 = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
  f32x4 r;
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  std::memcpy(&r, &s4, 16);
  for (; b < n; ++b) r += vload<f32x4>(vals + b * 4) * x[col[b]];
  return r;
}

SPARSE_AVX2 SPARSE_INLINE bool rows_avx2_bsr(const Packed& w, const Operands& o, int64_t r0,
                                             int64_t r1) {
  const bool csr = w.R == 1 && w.C == 1;
  if (!csr && w.R != 4) return rows_scalar(w, o, r0, r1);
  if (csr) {  // columns checked on the way; a bad one leaves garbage rows and reports
    const bool near = w.M > 0 && w.row_ptr[w.M] * int64_t{sizeof(float)} <= kRowsNearBytes * w.M;
    float* xp = padded_x();
    __m128i top = _mm_setzero_si128();
    for (int64_t n = 0; n < o.N; ++n) {
      std::memcpy(xp, o.x + n * o.ldx, w.K * sizeof(float));
      float* y = o.y + n * o.ldy;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = w.row_ptr[r], e = w.row_ptr[r + 1];
        const float v = near ? csr_row_loads<true>(w.values + b, w.col + b, e - b, xp, top)
                             : csr_row_loads<false>(w.values + b, w.col + b, e - b, xp, top);
        y[r] = epilogue(v, o, r);
      }
    }
    return r0 < r1 && o.N > 0 && max_lane(top) >= w.kb;
  }
  bool bad = false;
  for (int64_t n = 0; n < o.N; ++n) {
    const float* x = o.x + n * o.ldx;
    float* y = o.y + n * o.ldy;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = w.row_ptr[r], e = w.row_ptr[r + 1];
      // Rows with a column out of range take the clamping kernel (which sets bad).
      const f32x4 a = cols_in_range(w.col + b, e - b, w.kb)
                          ? block4x1_row_pairs(w.values + b * 4, w.col + b, e - b, x)
                          : block_row4<4, 1>(w, x, r, bad);
      for (int i = 0; i < 4 && r * 4 + i < w.M; ++i) y[r * 4 + i] = epilogue(a[i], o, r * 4 + i);
    }
  }
  return bad;
}

SPARSE_AVX2 bool rows_avx2(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  return w.nm24 ? rows_scalar(w, o, r0, r1) : rows_avx2_bsr(w, o, r0, r1);
}

SPARSE_AVX512 void tile_avx512(const Packed& w, const Operands& o, int nv,
                               int64_t r0, int64_t r1) {
  tile_dispatch<f32x16>(w, o, nv, r0, r1);
}

SPARSE_AVX512 unsigned max_col_avx512(const uint16_t* col, int64_t n) {
  return max_col_generic(col, n);
}

// 2:4 row: 8 groups (16 weights) per step; their inputs lie in a 32-float window,
// so the kept ones are picked by a two-source permute instead of a gather.
SPARSE_AVX512 SPARSE_INLINE float nm24_row_avx512(const Packed& w, const float* x, int64_t r) {
  const uint8_t* pos = w.pos + r * w.G;
  const float* wv = w.values + r * w.G * 2;
  const int64_t G = w.G, K = w.K;
  const __m512i pair = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const __m512i shift = _mm512_set_epi32(2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0);
  const __m512i base = _mm512_set_epi32(28, 28, 24, 24, 20, 20, 16, 16, 12, 12, 8, 8, 4, 4, 0, 0);
  const __m512i three = _mm512_set1_epi32(3);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t g = 0;
  for (; g + 8 <= G; g += 8) {
    const float* xw = x + 4 * g;
    const int64_t left = K - 4 * g;  // inputs from the window start to the end of x
    __m512 lo, hi;
    if (left >= 32) {
      lo = _mm512_loadu_ps(xw);
      hi = _mm512_loadu_ps(xw + 16);
    } else {
      const uint32_t m = static_cast<uint32_t>((uint64_t{1} << left) - 1);
      lo = _mm512_maskz_loadu_ps(__mmask16(m), xw);
      hi = _mm512_maskz_loadu_ps(__mmask16(m >> 16), xw + 16);
    }
    const __m512i p = _mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(pos + g)));
    const __m512i sel = _mm512_add_epi32(
        base, _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(pair, p), shift), three));
    const __m512 xv = _mm512_permutex2var_ps(lo, sel, hi);
    if ((g & 8) == 0) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wv + 2 * g), xv, a0);
    } else {
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wv + 2 * g), xv, a1);
    }
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; g < G; ++g) {
    const unsigned p = pos[g];
    s += wv[2 * g] * x[4 * g + (p & 3)] + wv[2 * g + 1] * x[4 * g + (p >> 2 & 3)];
  }
  return s;
}

// 2:4 rows use the permute kernel; BSR rows the AVX2 kernels (compiled for
// AVX-512 here), whose CSR loads beat 16-wide gathers.
SPARSE_AVX512 bool rows_avx512(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  if (!w.nm24) return rows_avx2_bsr(w, o, r0, r1);
  for (int64_t n = 0; n < o.N; ++n) {
    const float* x = o.x + n * o.ldx;
    float* y = o.y + n * o.ldy;
    for (int64_t r = r0; r < r1; ++r) y[r] = epilogue(nm24_row_avx512(w, x, r), o, r);
  }
  return false;
}

#endif  // COMPRESSOR_SPARSE_X86

struct IsaFns {
  TileFn tile;
  RowsFn rows;
  MaxColFn max_col;
  int lanes;
};

// The kernels of selected_isa() (throws for a bad COMPRESSOR_SPARSE_ISA).
IsaFns isa_fns() {
  const Isa isa = selected_isa();
#if COMPRESSOR_SPARSE_X86
  switch (isa) {
    case Isa::kAvx512:
      return {&tile_avx512, &rows_avx512, &max_col_avx512, 16};
    case Isa::kAvx2:
      return {&tile_avx2, &rows_avx2, &max_col_avx2, 8};
    case Isa::kPortable:
      break;
  }
#else
  (void)isa;
#endif
  return {&tile_portable, &rows_portable, &max_col_portable, 4};
}

// ---- scratch -----------------------------------------------------------------------------

// Scratch buffers come in whole 2 MB pages, marked for transparent huge pages
// where the kernel allows it: a tile of x then sits in physically contiguous
// memory and spreads evenly over the L2 sets (with 4 KB pages, random page
// colours overload some sets; measured as up to 2x run-to-run variation).
constexpr size_t kHugePage = size_t{2} << 20;

struct ScratchBuffer {
  float* data = nullptr;
  size_t bytes = 0;
  ~ScratchBuffer() { std::free(data); }
  void release() {
    std::free(data);
    data = nullptr;
    bytes = 0;
  }
  float* get(size_t need) {
    if (need <= bytes) return data;
    release();
    const size_t rounded = (need + kHugePage - 1) / kHugePage * kHugePage;
    data = static_cast<float*>(std::aligned_alloc(kHugePage, rounded));
    if (data == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(data, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    bytes = rounded;
    return data;
  }
};

thread_local ScratchBuffer t_scratch[static_cast<int>(Scratch::kCount)];

}  // namespace

float* scratch(Scratch which, int64_t floats) {
  return t_scratch[static_cast<int>(which)].get(static_cast<size_t>(floats) * sizeof(float));
}

void release_scratch(Scratch which) {
  ScratchBuffer& buf = t_scratch[static_cast<int>(which)];
  if (buf.bytes > static_cast<size_t>(kScratchKeep) * sizeof(float)) buf.release();
}

namespace {

// ---- work split -------------------------------------------------------------------------

// Row units: block rows (BSR) or rows (2:4).
int64_t row_units(const Packed& w) { return w.nm24 ? w.M : (w.M + w.R - 1) / w.R; }

// Fixed cost of a row unit (loop set-up, epilogue, store) in stored-weight units.
constexpr int64_t kRowCost = 4;

// Work before a row unit: stored weights plus the per-row cost; monotone in the unit.
int64_t work_before(const Packed& w, int64_t u) {
  const int64_t stored = w.nm24 ? u * w.G * 2 : w.row_ptr[u] * w.R * w.C;
  return stored + kRowCost * u;
}

// Boundaries of `parts` row chunks of about equal work (balanced by stored weights).
std::vector<int64_t> balanced_chunks(const Packed& w, int64_t parts) {
  const int64_t units = row_units(w);
  const int64_t total = work_before(w, units);
  std::vector<int64_t> bounds(parts + 1, units);
  bounds[0] = 0;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t target = total / parts * p + total % parts * p / parts;
    int64_t lo = bounds[p - 1], hi = units;  // first unit u with work_before(u) >= target
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (work_before(w, mid) < target) lo = mid + 1; else hi = mid;
    }
    bounds[p] = lo;
  }
  return bounds;
}

// Below this many multiply-adds a call stays on the calling thread.
constexpr int64_t kParallelMacs = 1 << 18;

int64_t chunk_count(const Packed& w, int64_t macs, int64_t other_items) {
  const int64_t threads = at::get_num_threads();
  if (threads <= 1 || macs < kParallelMacs) return 1;
  // A few chunks per thread when the other dimension does not split the work.
  const int64_t want = other_items >= threads ? 1 : threads * 4;
  return std::max<int64_t>(1, std::min(want, row_units(w)));
}

int env_int(const char* name, int fallback) {
  const char* env = std::getenv(name);  // tuning knobs for benchmarks
  return env != nullptr && *env != '\0' ? std::atoi(env) : fallback;
}

// Vectors per column tile: wide tiles amortise the per-weight work (index,
// broadcast) over more FMAs, within the register file (R x NV accumulators);
// the K' x tile slice of x, read once per output row, should stay in L2.
int choose_nv(const Packed& w, int64_t N, int lanes) {
  const int64_t vectors = (N + lanes - 1) / lanes;
  const int max_nv = w.R == 4 ? (lanes == 16 ? 4 : 2) : (lanes == 16 ? 8 : 4);
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

bool spmv(const Packed& w, const Operands& o) {
  if (w.M == 0 || o.N == 0) return false;
  const IsaFns fns = isa_fns();
  const int64_t macs = w.nnz() * o.N;
  // Row chunks small enough (in stored weights) to stay in L2 while every row of
  // x passes over them, and at least a few per thread.
  const int64_t threads = macs < kParallelMacs ? 1 : at::get_num_threads();
  const int64_t by_size = o.N > 1 ? w.nnz() * (w.nm24 ? 1 : w.R * w.C) / 16384 + 1 : 1;
  const int64_t want = std::max(by_size, threads > 1 ? threads * 4 : int64_t{1});
  const int64_t parts = std::max<int64_t>(1, std::min(row_units(w), want));
  const std::vector<int64_t> bounds = balanced_chunks(w, parts);
  std::atomic<bool> bad{false};
  at::parallel_for(0, parts, threads > 1 ? 1 : parts, [&](int64_t begin, int64_t end) {
    bool my_bad = false;
    for (int64_t p = begin; p < end; ++p) {
      if (bounds[p] < bounds[p + 1]) my_bad |= fns.rows(w, o, bounds[p], bounds[p + 1]);
    }
    if (my_bad) bad = true;
  });
  return bad;
}

}  // namespace compressor::cpu::sparse

namespace compressor::cpu::sparse {

int spmm_lanes() { return isa_fns().lanes; }

int spmm_max_nv(const Packed& w) {
  const int lanes = spmm_lanes();
  return w.R == 4 ? (lanes == 16 ? 4 : 2) : (lanes == 16 ? 8 : 4);
}

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
