// The rows layout of the sparse engine (spmv), for a few rows of x (batch 1):
// bandwidth-bound, so the weight bytes decide the speed: 4-byte values with
// 2-byte indices (CSR), 1 byte per 2 values (2:4).
//
// * CSR (AVX2 / AVX-512): x is copied into a buffer of 65536 floats, so that
//   every 16-bit column reads inside it, and assembled from scalar loads
//   (vinsertps), which beat 8-wide gathers here; the largest column is tracked
//   on the way and a bad one reported after the pass.
// * 4x1 blocks (AVX2 / AVX-512): the columns of a block row are range-checked
//   once, vectorised, then x is broadcast per block; a row with a bad column
//   takes the clamping kernel of generic.h.
// * 2:4 (AVX-512): x is picked from a 32-float window by permutes.
// * Everything else: the generic 4-lane and scalar kernels (generic.h).
// The weight streams are prefetched in software in the CSR and 4x1 kernels.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/sparse/generic.h"

#if COMPRESSOR_SPARSE_X86
#include <immintrin.h>
#endif

namespace compressor::cpu::sparse {

// ---- per-ISA entry points -----------------------------------------------------------------

bool rows_portable(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  return rows_scalar(w, o, r0, r1);
}

#if COMPRESSOR_SPARSE_X86

namespace {

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

}  // namespace

SPARSE_AVX2 bool rows_avx2(const Packed& w, const Operands& o, int64_t r0, int64_t r1) {
  return w.nm24 ? rows_scalar(w, o, r0, r1) : rows_avx2_bsr(w, o, r0, r1);
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

// ---- spmv ---------------------------------------------------------------------------------

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
