// The rows layout of the int8 engine for CSR with quantized x on AVX512_VNNI +
// AVX512_VBMI (batch 1 int8 x int8): x as uint8 bytes, 16 stored weights per step.
//
// The 16 columns of a step usually lie within 256 inputs of the first one (at 90%
// sparsity and 4096 inputs they span ~160), so x is picked from a 256-byte window
// by two vpermi2b and a byte blend instead of 16 scalar loads, into the byte
// order of the 16 weights, and one 128-bit vpdpbusd adds the 16 exact products (4
// per lane). A step whose columns leave the window (sparser rows, or columns out
// of order) gathers its 16 bytes instead. The zero point
// comes off at the end of each row: sum w * x - zp * sum w, summed by a second
// vpdpbusd against ones; int32 wraps, exact because the true sum fits.
#include <cstring>

#include "cpu/sparse/int8_internal.h"

#if COMPRESSOR_SPARSE_X86
#include <immintrin.h>

namespace compressor::cpu::sparse {
namespace {

// Software prefetch distances in stored weights ahead (as the float kernel: near
// into L1 for rows of up to ~768 stored weights, far into L2 for longer rows).
constexpr int kAheadNear = 1024;
constexpr int kAheadFar = 4096;
constexpr int64_t kNearWeights = 768;

template <bool Near>
SPARSE8_VNNI SPARSE8_INLINE int32_t csr_row_bytes(const int8_t* q, const uint16_t* col, int64_t n,
                                                  const uint8_t* x, int32_t zp, __m256i& top) {
  constexpr int ahead = Near ? kAheadNear : kAheadFar;
  constexpr _mm_hint hint = Near ? _MM_HINT_T0 : _MM_HINT_T1;
  const __m128i ones = _mm_set1_epi8(1);
  const __m512i bit7 = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m256i window = _mm256_set1_epi16(256);
  __m128i acc = _mm_setzero_si128(), ws = _mm_setzero_si128();
  for (int64_t b = 0; b < n; b += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(q + b + ahead), hint);
    _mm_prefetch(reinterpret_cast<const char*>(col + b + ahead), hint);
    const __mmask16 live = n - b >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - b)) - 1);
    const unsigned base = col[b];
    // Lanes past the row's end read column `base` with weight 0.
    const __m256i c16 = _mm256_mask_loadu_epi16(_mm256_set1_epi16(static_cast<short>(base)), live,
                                                col + b);
    top = _mm256_max_epu16(top, c16);
    const __m128i w = _mm_maskz_loadu_epi8(live, q + b);
    const __m256i off = _mm256_sub_epi16(c16, _mm256_set1_epi16(static_cast<short>(base)));
    __m128i xv;
    if (_mm256_cmpge_epu16_mask(off, window) == 0) {
      const uint8_t* xw = x + base;
      const __m512i idx = _mm512_zextsi128_si512(_mm256_cvtepi16_epi8(off));
      const __m512i lo = _mm512_permutex2var_epi8(_mm512_loadu_si512(xw), idx, _mm512_loadu_si512(xw + 64));
      const __m512i hi = _mm512_permutex2var_epi8(_mm512_loadu_si512(xw + 128), idx,
                                                  _mm512_loadu_si512(xw + 192));
      xv = _mm512_castsi512_si128(_mm512_mask_blend_epi8(_mm512_test_epi8_mask(idx, bit7), lo, hi));
    } else {
      xv = _mm512_cvtepi32_epi8(_mm512_i32gather_epi32(_mm512_cvtepu16_epi32(c16), x, 1));
    }
    // 4 lanes, each the sum of 4 consecutive stored weights times their x.
    acc = _mm_dpbusd_epi32(acc, xv, w);
    ws = _mm_dpbusd_epi32(ws, ones, w);
  }
  alignas(16) uint32_t a[4], s[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(a), acc);
  _mm_store_si128(reinterpret_cast<__m128i*>(s), ws);
  const uint32_t sum = (a[0] + a[1]) + (a[2] + a[3]), wsum = (s[0] + s[1]) + (s[2] + s[3]);
  return static_cast<int32_t>(sum - static_cast<uint32_t>(zp) * wsum);
}

SPARSE8_VNNI SPARSE8_INLINE unsigned max_lane(__m256i top) {
  alignas(32) uint16_t lanes[16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), top);
  unsigned m = 0;
  for (uint16_t v : lanes) m = v > m ? v : m;
  return m;
}

}  // namespace

// xb: row n of x as bytes (prepare_row_bytes); zero point shifted for int8 x.
SPARSE8_VNNI bool rows8_vnni_csr(const Packed8& p, const Act8& a, const void* xb, int64_t n,
                                 int64_t r0, int64_t r1) {
  const Packed& w = p.w;
  const uint8_t* x = static_cast<const uint8_t*>(xb);
  const int32_t zp = a.zp_of(n) + (a.type == XType::kInt8 ? 128 : 0);
  const bool near = w.row_ptr[w.M] <= kNearWeights * w.M;
  float* y = a.y + n * a.ldy;
  __m256i top = _mm256_setzero_si256();
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = w.row_ptr[r], e = w.row_ptr[r + 1];
    const int32_t s = near ? csr_row_bytes<true>(p.q + b, w.col + b, e - b, x, zp, top)
                           : csr_row_bytes<false>(p.q + b, w.col + b, e - b, x, zp, top);
    y[r] = epilogue_q8(s, a, p, n, r);
  }
  return w.row_ptr[r1] > w.row_ptr[r0] && max_lane(top) >= w.kb;
}

}  // namespace compressor::cpu::sparse

#endif  // COMPRESSOR_SPARSE_X86
