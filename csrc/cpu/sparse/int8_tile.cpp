// The tile kernels of the int8 engine's columns layout (spmm8, driven by
// int8_spmm.cpp): each stored weight works on a tile of x columns (batch).
//
// * Float kernels (every format): the tile holds x (w8) or the exact integers
//   xq - zp (q8) as floats; each int8 weight is converted and broadcast, then
//   vector FMAs. For q8 the float sums stay exact: a product is at most
//   128 * 255 in magnitude, so 512 of them stay below 2^24; every 512 products
//   (per row) the float accumulators are converted to int32 and added up there.
// * VNNI kernels (quantized x, AVX512_VNNI): the tile holds uint8 x in groups
//   of 4 consecutive inputs per column ([K'/4, ld, 4]), so one vpdpbusd
//   multiplies a 1x4 block, a 2:4 group (its two values placed in a 4-byte
//   word) or a single weight (placed at its input's byte of the group; CSR, 4x1)
//   by 16 columns, with exact int32 sums; the zero point comes off at the end
//   (acc - zp * sum of the row's stored values).
//
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/sparse/int8_internal.h"

#if COMPRESSOR_SPARSE_X86
#include <immintrin.h>
#endif

// GCC vector types only cross always_inline calls (no ABI involved).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace compressor::cpu::sparse {
namespace {

typedef float f32x16 __attribute__((vector_size(64)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));

template <class V>
constexpr int kLanes = sizeof(V) / sizeof(float);
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
template <class V>
struct IntOf;
template <>
struct IntOf<f32x16> { using type = i32x16; };
template <>
struct IntOf<f32x8> { using type = i32x8; };
template <>
struct IntOf<f32x4> { using type = i32x4; };
template <class V>
using IntV = typename IntOf<V>::type;

template <class V>
SPARSE8_INLINE V vload(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}

// Stored weights per exact segment: at most 512 products per accumulator lane.
constexpr int64_t kExactProducts = 512;

// One row of results (row m of the tile): w8 from float sums, q8 from exact ones.
template <class V, int NV, bool Exact>
SPARSE8_INLINE void store_row(const V (&acc)[NV], const IntV<V> (&iacc)[NV], const Packed8& p,
                              const Act8& a, const Tile8& t, int64_t m) {
  constexpr int L = kLanes<V>;
  const float b = a.bias != nullptr ? a.bias[m] : 0.0f;
  float* y = t.y + m * t.ld;
  for (int v = 0; v < NV; ++v) {
    V r;
    if constexpr (Exact) {
      r = no_fuse(__builtin_convertvector(iacc[v], V) * (vload<V>(t.sx + v * L) * p.scale[m]));
    } else {
      r = acc[v] * p.scale[m];
    }
    if (a.bias != nullptr) r = r + b;
    if (a.relu) r = r < 0.0f ? V{} : r;
    __builtin_memcpy(y + v * L, &r, sizeof(V));
  }
}

// acc += block bb (R x C int8 weights) times its C rows of the float tile.
template <class V, int NV, int R, int C>
SPARSE8_INLINE void block_fma(V (&acc)[R][NV], const Packed8& p, const float* x, int64_t ld,
                              int64_t bb) {
  constexpr int L = kLanes<V>;
  const int8_t* q = p.q + bb * (R * C);
  const float* xr = x + int64_t{p.w.col[bb]} * C * ld;
  for (int c = 0; c < C; ++c) {
    V xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = vload<V>(xr + c * ld + v * L);
    for (int r = 0; r < R; ++r) {
      const float s = q[r * C + c];
      for (int v = 0; v < NV; ++v) acc[r][v] += s * xv[v];
    }
  }
}

// Block rows [br0, br1) of R x C blocks over one float tile: U accumulator sets
// fed by consecutive blocks (independent FMA chains for narrow tiles).
template <class V, int NV, int R, int C, bool Exact>
SPARSE8_INLINE void bsr_tile(const Packed8& p, const Act8& a, const Tile8& t, int64_t br0,
                             int64_t br1) {
  constexpr int U = R * NV >= 4 ? 1 : 4 / (R * NV);
  using I = IntV<V>;
  const Packed& w = p.w;
  const float* x = static_cast<const float*>(t.x);
  const int64_t ld = t.ld;
  const int64_t seg = Exact ? kExactProducts / C : int64_t{1} << 62;
  for (int64_t br = br0; br < br1; ++br) {
    V acc[U][R][NV] = {};
    I iacc[R][NV] = {};
    int64_t b = w.row_ptr[br];
    const int64_t e = w.row_ptr[br + 1];
    while (b < e) {
      const int64_t se = std::min(e, b + seg);
      for (; b + U <= se; b += U) {
        __builtin_prefetch(p.q + (b + 256) * (R * C), 0, 0);
        __builtin_prefetch(w.col + b + 256, 0, 0);
        for (int u = 0; u < U; ++u) block_fma<V, NV, R, C>(acc[u], p, x, ld, b + u);
      }
      for (; b < se; ++b) block_fma<V, NV, R, C>(acc[0], p, x, ld, b);
      for (int u = 1; u < U; ++u)
        for (int r = 0; r < R; ++r)
          for (int v = 0; v < NV; ++v) acc[0][r][v] += acc[u][r][v];
      if constexpr (Exact) {
        for (int r = 0; r < R; ++r)
          for (int v = 0; v < NV; ++v) iacc[r][v] += __builtin_convertvector(acc[0][r][v], I);
        for (int u = 0; u < U; ++u)
          for (int r = 0; r < R; ++r)
            for (int v = 0; v < NV; ++v) acc[u][r][v] = V{};
      } else {
        for (int u = 1; u < U; ++u)
          for (int r = 0; r < R; ++r)
            for (int v = 0; v < NV; ++v) acc[u][r][v] = V{};
      }
    }
    for (int r = 0; r < R && br * R + r < w.M; ++r) {
      store_row<V, NV, Exact>(acc[0][r], iacc[r], p, a, t, br * R + r);
    }
  }
}

// Rows [r0, r1) of a 2:4 weight over one float tile: two accumulator sets (the slots).
template <class V, int NV, bool Exact>
SPARSE8_INLINE void nm24_tile(const Packed8& p, const Act8& a, const Tile8& t, int64_t r0,
                              int64_t r1) {
  constexpr int L = kLanes<V>;
  using I = IntV<V>;
  const Packed& w = p.w;
  const float* x = static_cast<const float*>(t.x);
  const int64_t ld = t.ld, G = w.G;
  const int64_t seg = Exact ? kExactProducts / 2 : G;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* pos = w.pos + r * G;
    const int8_t* q = p.q + r * G * 2;
    V acc[2][NV] = {};
    I iacc[NV] = {};
    for (int64_t g0 = 0; g0 < G; g0 += seg) {
      for (int64_t g = g0; g < std::min(G, g0 + seg); ++g) {
        const float* x0 = x + (4 * g + (pos[g] & 3)) * ld;
        const float* x1 = x + (4 * g + (pos[g] >> 2 & 3)) * ld;
        const float s0 = q[2 * g], s1 = q[2 * g + 1];
        for (int v = 0; v < NV; ++v) {
          acc[0][v] += s0 * vload<V>(x0 + v * L);
          acc[1][v] += s1 * vload<V>(x1 + v * L);
        }
      }
      for (int v = 0; v < NV; ++v) {
        acc[0][v] += acc[1][v];
        acc[1][v] = V{};
        if constexpr (Exact) {
          iacc[v] += __builtin_convertvector(acc[0][v], I);
          acc[0][v] = V{};
        }
      }
    }
    store_row<V, NV, Exact>(acc[0], iacc, p, a, t, r);
  }
}

template <class V, int NV, bool Exact>
SPARSE8_INLINE void tile_fmt(const Packed8& p, const Act8& a, const Tile8& t, int64_t r0, int64_t r1) {
  const Packed& w = p.w;
  if (w.nm24) {
    nm24_tile<V, NV, Exact>(p, a, t, r0, r1);
  } else if (w.R == 4) {
    if constexpr (NV <= 2) bsr_tile<V, NV, 4, 1, Exact>(p, a, t, r0, r1);
  } else if (w.C == 4) {
    bsr_tile<V, NV, 1, 4, Exact>(p, a, t, r0, r1);
  } else {
    bsr_tile<V, NV, 1, 1, Exact>(p, a, t, r0, r1);
  }
}

template <class V, bool Exact>
SPARSE8_INLINE void tile_nv(const Packed8& p, const Act8& a, const Tile8& t, int nv, int64_t r0,
                            int64_t r1) {
  switch (nv) {
    case 1:
      return tile_fmt<V, 1, Exact>(p, a, t, r0, r1);
    case 2:
      return tile_fmt<V, 2, Exact>(p, a, t, r0, r1);
    default:
      return tile_fmt<V, 4, Exact>(p, a, t, r0, r1);
  }
}

template <class V>
SPARSE8_INLINE void tile_float(const Packed8& p, const Act8& a, const Tile8& t, int nv, int64_t r0,
                               int64_t r1) {
  if (a.quantized()) return tile_nv<V, true>(p, a, t, nv, r0, r1);
  tile_nv<V, false>(p, a, t, nv, r0, r1);
}

}  // namespace

// ---- per-ISA entry points -----------------------------------------------------------------

void tile8_portable(const Packed8& p, const Act8& a, const Tile8& t, int nv, int64_t r0, int64_t r1) {
  tile_float<f32x4>(p, a, t, nv, r0, r1);
}

#if COMPRESSOR_SPARSE_X86

SPARSE8_AVX2 void tile8_avx2(const Packed8& p, const Act8& a, const Tile8& t, int nv, int64_t r0,
                             int64_t r1) {
  tile_float<f32x8>(p, a, t, nv, r0, r1);
}

SPARSE8_AVX512 void tile8_avx512(const Packed8& p, const Act8& a, const Tile8& t, int nv, int64_t r0,
                                 int64_t r1) {
  tile_float<f32x16>(p, a, t, nv, r0, r1);
}

namespace {

// The 4-byte word of 2:4 group g: value j at byte pos_j (one slot of a shared
// position holds 0, as the packing writes it; two non-zeros there are split).
SPARSE8_VNNI SPARSE8_INLINE void nm24_words(const int8_t* q, unsigned pos, uint32_t* w0,
                                            uint32_t* w1) {
  const unsigned p0 = (pos & 3) * 8, p1 = (pos >> 2 & 3) * 8;
  const uint32_t v0 = static_cast<uint8_t>(q[0]), v1 = static_cast<uint8_t>(q[1]);
  if (p0 != p1) {
    *w0 = v0 << p0 | v1 << p1;
    *w1 = 0;
  } else {
    *w0 = v0 << p0;
    *w1 = v1 << p1;
  }
}

// Formats of the VNNI tile kernel.
enum VnniFmt { k1x4, kNm24, kCsr, k4x1 };

// The broadcast word of one stored weight at input k: its byte at position k % 4.
SPARSE8_VNNI SPARSE8_INLINE __m512i placed(int8_t q, unsigned k) {
  return _mm512_set1_epi32(static_cast<int>(uint32_t{static_cast<uint8_t>(q)} << (k & 3) * 8));
}

SPARSE8_VNNI SPARSE8_INLINE void dp(__m512i* acc, const uint8_t* xg, __m512i word, int nv) {
  for (int v = 0; v < nv; ++v) acc[v] = _mm512_dpbusd_epi32(acc[v], _mm512_loadu_si512(xg + v * 64), word);
}

// acc += stored block / group / weight i of the row unit times its x (F's layout).
template <int NV, VnniFmt F, int R>
SPARSE8_VNNI SPARSE8_INLINE void vnni_step(__m512i (&acc)[R][NV], const Packed8& p, const uint8_t* x,
                                           int64_t stride, int64_t u, int64_t i) {
  const Packed& w = p.w;
  if constexpr (F == kNm24) {
    uint32_t w0, w1;
    nm24_words(p.q + (u * w.G + i) * 2, w.pos[u * w.G + i], &w0, &w1);
    dp(acc[0], x + i * stride, _mm512_set1_epi32(static_cast<int>(w0)), NV);
    if (w1 != 0) dp(acc[0], x + i * stride, _mm512_set1_epi32(static_cast<int>(w1)), NV);
  } else if constexpr (F == k1x4) {
    int32_t word;
    std::memcpy(&word, p.q + i * 4, 4);
    dp(acc[0], x + int64_t{w.col[i]} * stride, _mm512_set1_epi32(word), NV);
  } else {
    const unsigned k = w.col[i];
    const uint8_t* xg = x + int64_t{k >> 2} * stride;
    for (int r = 0; r < R; ++r) dp(acc[r], xg, placed(p.q[i * R + r], k), NV);
  }
}

// Row units [u0, u1) (rows; block rows of 4 for 4x1) over one uint8 tile [K'/4, ld, 4]:
// one vpdpbusd per stored 1x4 block / 2:4 group / weight and 16 columns, into U sets
// of accumulators taking turns (independent chains for narrow tiles).
template <int NV, VnniFmt F>
SPARSE8_VNNI SPARSE8_INLINE void vnni_rows(const Packed8& p, const Act8& a, const Tile8& t,
                                           int64_t u0, int64_t u1) {
  constexpr int R = F == k4x1 ? 4 : 1;
  constexpr int U = R * NV >= 8 ? 1 : 8 / (R * NV);
  const Packed& w = p.w;
  const uint8_t* x = static_cast<const uint8_t*>(t.x);
  const int64_t stride = t.ld * 4;  // bytes per group of 4 inputs
  for (int64_t u = u0; u < u1; ++u) {
    __m512i acc[U][R][NV];
    for (int s = 0; s < U; ++s)
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[s][r][v] = _mm512_setzero_si512();
    int64_t i = F == kNm24 ? 0 : w.row_ptr[u];
    const int64_t e = F == kNm24 ? w.G : w.row_ptr[u + 1];
    for (; i + U <= e; i += U) {
      _mm_prefetch(reinterpret_cast<const char*>(p.q + (i + 256) * (F == kCsr ? 1 : 4)), _MM_HINT_T0);
      for (int s = 0; s < U; ++s) vnni_step<NV, F, R>(acc[s], p, x, stride, u, i + s);
    }
    for (; i < e; ++i) vnni_step<NV, F, R>(acc[0], p, x, stride, u, i);
    for (int s = 1; s < U; ++s)
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[0][r][v] = _mm512_add_epi32(acc[0][r][v], acc[s][r][v]);
    // acc - zp * wsum: wrapping int32 arithmetic, exact because the true sum fits.
    for (int r = 0; r < R && u * R + r < w.M; ++r) {
      const int64_t m = u * R + r;
      const __m512i ws = _mm512_set1_epi32(t.wsum[m]);
      const __m512 sw = _mm512_set1_ps(p.scale[m]);
      float* y = t.y + m * t.ld;
      for (int v = 0; v < NV; ++v) {
        const __m512i zp = _mm512_loadu_si512(t.zp + v * 16);
        const __m512i exact = _mm512_sub_epi32(acc[0][r][v], _mm512_mullo_epi32(zp, ws));
        const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(t.sx + v * 16), sw);
        __m512 out = no_fuse(_mm512_mul_ps(_mm512_cvtepi32_ps(exact), s));
        if (a.bias != nullptr) out = _mm512_add_ps(out, _mm512_set1_ps(a.bias[m]));
        if (a.relu) {
          out = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(out, _mm512_setzero_ps(), _CMP_LT_OQ), out,
                                     _mm512_setzero_ps());
        }
        _mm512_storeu_ps(y + v * 16, out);
      }
    }
  }
}

template <VnniFmt F>
SPARSE8_VNNI SPARSE8_INLINE void vnni_nv(const Packed8& p, const Act8& a, const Tile8& t, int nv,
                                         int64_t r0, int64_t r1) {
  switch (nv) {
    case 1:
      return vnni_rows<1, F>(p, a, t, r0, r1);
    case 2:
      return vnni_rows<2, F>(p, a, t, r0, r1);
    case 4:
      return vnni_rows<4, F>(p, a, t, r0, r1);
    default:
      if constexpr (F != k4x1) vnni_rows<8, F>(p, a, t, r0, r1);
  }
}

}  // namespace

SPARSE8_VNNI void tile8_vnni(const Packed8& p, const Act8& a, const Tile8& t, int nv, int64_t r0,
                             int64_t r1) {
  const Packed& w = p.w;
  if (w.nm24) return vnni_nv<kNm24>(p, a, t, nv, r0, r1);
  if (w.R == 4) return vnni_nv<k4x1>(p, a, t, nv, r0, r1);
  if (w.C == 4) return vnni_nv<k1x4>(p, a, t, nv, r0, r1);
  vnni_nv<kCsr>(p, a, t, nv, r0, r1);
}

#endif  // COMPRESSOR_SPARSE_X86

}  // namespace compressor::cpu::sparse
