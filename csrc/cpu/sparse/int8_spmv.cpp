// The rows layout of the int8 engine (spmv8), for a few rows of x (batch 1):
// bandwidth-bound like the float one, with 3 bytes per stored CSR weight
// (1-byte value, 2-byte column) instead of 6.
//
// Each row of x is first written into a per-thread buffer of 32-bit entries
// covering every 16-bit column: the floats of x (w8), or the exact integers
// xq - zp as int16 in the low half and zero in the high half (q8). The AVX2 /
// AVX-512 CSR kernel assembles x from scalar loads (vinsertps, as the float
// kernel) and multiplies 8 sign-extended weights at a time: float FMAs (w8) or
// vpmaddwd (q8: int16 x int16 -> int32, exact; the zero high halves of x cancel
// the weights' sign bits), tracking the largest column on the way. Other
// formats, and every format on the portable build, take the scalar kernels,
// which clamp columns as they go.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu/sparse/int8_internal.h"

#if COMPRESSOR_SPARSE_X86
#include <immintrin.h>
#endif

namespace compressor::cpu::sparse {
namespace {

// ---- x rows --------------------------------------------------------------------------------

// Entries of the per-thread x buffer: every 16-bit column, and K' for the blocked formats.
constexpr int64_t kRowEntries = 65536;

uint32_t* x_buffer(int64_t entries) {
  thread_local std::vector<uint32_t> buf;
  const size_t need = static_cast<size_t>(std::max(entries, kRowEntries));
  if (buf.size() < need) buf.resize(need, 0u);
  return buf.data();
}

// Row n of x into xb (K entries, then zeros up to K' so that padded block columns,
// whose weights are zero, add exact zeros).
void prepare_row(const Act8& a, int64_t n, int64_t K, int64_t Kp, uint32_t* xb) {
  if (a.type == XType::kFloat) {
    std::memcpy(xb, static_cast<const float*>(a.x) + n * a.ldx, K * sizeof(float));
  } else {
    const int32_t zp = a.zp_of(n);
    if (a.type == XType::kUint8) {
      const uint8_t* x = static_cast<const uint8_t*>(a.x) + n * a.ldx;
      for (int64_t k = 0; k < K; ++k) xb[k] = static_cast<uint16_t>(int32_t{x[k]} - zp);
    } else {
      const int8_t* x = static_cast<const int8_t*>(a.x) + n * a.ldx;
      for (int64_t k = 0; k < K; ++k) xb[k] = static_cast<uint16_t>(int32_t{x[k]} - zp);
    }
  }
  std::memset(xb + K, 0, (Kp - K) * sizeof(uint32_t));
}

// Row n of quantized x as bytes (int8 shifted by 128 to uint8) for rows8_vnni_csr,
// whose 256-byte windows start at any 16-bit column: zeros past K.
constexpr int64_t kByteRow = 65536 + 256;

void prepare_row_bytes(const Act8& a, int64_t n, int64_t K, uint8_t* xb) {
  const uint8_t* x = static_cast<const uint8_t*>(a.x) + n * a.ldx;
  if (a.type == XType::kUint8) {
    std::memcpy(xb, x, K);
  } else {
    for (int64_t k = 0; k < K; ++k) xb[k] = x[k] ^ 0x80;
  }
  std::memset(xb + K, 0, kByteRow - K);
}

// ---- scalar kernels (every format) ------------------------------------------------------

template <bool Q>
using Acc = std::conditional_t<Q, uint32_t, float>;  // q8 sums wrap (the true sum fits)

template <bool Q>
SPARSE8_INLINE Acc<Q> prod(int8_t q, const void* xb, int64_t k) {
  if constexpr (Q) {
    const int32_t x = static_cast<int16_t>(static_cast<const uint32_t*>(xb)[k]);
    return static_cast<uint32_t>(int32_t{q} * x);
  } else {
    return static_cast<float>(q) * static_cast<const float*>(xb)[k];
  }
}

template <bool Q>
SPARSE8_INLINE float finish(Acc<Q> acc, const Packed8& p, const Act8& a, int64_t n, int64_t m) {
  if constexpr (Q) {
    return epilogue_q8(static_cast<int32_t>(acc), a, p, n, m);
  } else {
    return epilogue_w8(acc, a, p, m);
  }
}

template <bool Q>
SPARSE8_INLINE bool rows_scalar(const Packed8& p, const Act8& a, const void* xb, int64_t n,
                                int64_t r0, int64_t r1) {
  const Packed& w = p.w;
  float* y = a.y + n * a.ldy;
  bool bad = false;
  const unsigned last = static_cast<unsigned>(w.kb - 1);
  auto col = [&](int64_t b) -> int64_t {  // clamped; a clamp is reported
    const unsigned c = w.col[b];
    bad |= c > last;
    return c > last ? last : c;
  };
  if (w.nm24) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* pos = w.pos + r * w.G;
      const int8_t* q = p.q + r * w.G * 2;
      Acc<Q> s0{}, s1{};
      for (int64_t g = 0; g < w.G; ++g) {
        s0 += prod<Q>(q[2 * g], xb, 4 * g + (pos[g] & 3));
        s1 += prod<Q>(q[2 * g + 1], xb, 4 * g + (pos[g] >> 2 & 3));
      }
      y[r] = finish<Q>(s0 + s1, p, a, n, r);
    }
  } else if (w.R == 4) {
    for (int64_t br = r0; br < r1; ++br) {
      Acc<Q> s[4] = {};
      for (int64_t b = w.row_ptr[br]; b < w.row_ptr[br + 1]; ++b) {
        const int64_t c = col(b);
        for (int i = 0; i < 4; ++i) s[i] += prod<Q>(p.q[b * 4 + i], xb, c);
      }
      for (int i = 0; i < 4 && br * 4 + i < w.M; ++i) y[br * 4 + i] = finish<Q>(s[i], p, a, n, br * 4 + i);
    }
  } else {
    const int C = w.C;
    for (int64_t r = r0; r < r1; ++r) {
      Acc<Q> s[4] = {};
      for (int64_t b = w.row_ptr[r]; b < w.row_ptr[r + 1]; ++b) {
        const int64_t c = col(b) * C;
        for (int j = 0; j < C; ++j) s[(b + j) & 3] += prod<Q>(p.q[b * C + j], xb, c + j);
      }
      y[r] = finish<Q>((s[0] + s[1]) + (s[2] + s[3]), p, a, n, r);
    }
  }
  return bad;
}

bool rows_dispatch_scalar(const Packed8& p, const Act8& a, const void* xb, int64_t n, int64_t r0,
                          int64_t r1) {
  return a.quantized() ? rows_scalar<true>(p, a, xb, n, r0, r1)
                       : rows_scalar<false>(p, a, xb, n, r0, r1);
}

}  // namespace

bool rows8_portable(const Packed8& p, const Act8& a, const void* xb, int64_t n, int64_t r0,
                    int64_t r1) {
  return rows_dispatch_scalar(p, a, xb, n, r0, r1);
}

#if COMPRESSOR_SPARSE_X86

namespace {

// ---- the CSR kernel (AVX2, also run by the AVX-512 entries) ------------------------------

// Software prefetch distances, in stored weights ahead: rows of up to ~768 weights
// (80-95% sparsity at 4096 inputs) into L1, longer ones into L2 (as the float kernel).
constexpr int kAheadNear = 1024;
constexpr int kAheadFar = 4096;
constexpr int64_t kNearWeights = 768;  // average stored weights per row for the near distance

SPARSE8_AVX2 SPARSE8_INLINE __m128 x4_at(const float* x, uint64_t c) {
  __m128 v = _mm_load_ss(x + (c & 0xffff));
  v = _mm_insert_ps(v, _mm_load_ss(x + (c >> 16 & 0xffff)), 0x10);
  v = _mm_insert_ps(v, _mm_load_ss(x + (c >> 32 & 0xffff)), 0x20);
  return _mm_insert_ps(v, _mm_load_ss(x + (c >> 48)), 0x30);
}

// x at 8 columns (32-bit entries moved as floats: q8 integers pass unchanged).
SPARSE8_AVX2 SPARSE8_INLINE __m256 x8_at(const float* x, const uint16_t* col) {
  uint64_t c0, c1;
  std::memcpy(&c0, col, 8);
  std::memcpy(&c1, col + 4, 8);
  return _mm256_insertf128_ps(_mm256_castps128_ps256(x4_at(x, c0)), x4_at(x, c1), 1);
}

// acc += w[0..8) * x8 (float FMA, or exact vpmaddwd + vpaddd for q8).
template <bool Q>
SPARSE8_AVX2 SPARSE8_INLINE void dot8(__m256i& acc_i, __m256& acc_f, __m128i w8, __m256 x8) {
  const __m256i wi = _mm256_cvtepi8_epi32(w8);
  if constexpr (Q) {
    acc_i = _mm256_add_epi32(acc_i, _mm256_madd_epi16(_mm256_castps_si256(x8), wi));
  } else {
    acc_f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(wi), x8, acc_f);
  }
}

template <bool Q, bool Near>
SPARSE8_AVX2 SPARSE8_INLINE Acc<Q> csr_row(const int8_t* q, const uint16_t* col, int64_t n,
                                           const float* x, __m128i& top) {
  constexpr int ahead = Near ? kAheadNear : kAheadFar;
  constexpr _mm_hint hint = Near ? _MM_HINT_T0 : _MM_HINT_T1;
  __m256i i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256();
  __m256 f0 = _mm256_setzero_ps(), f1 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 16 <= n; b += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(q + b + ahead), hint);
    _mm_prefetch(reinterpret_cast<const char*>(col + b + ahead), hint);
    const __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + b));
    const __m128i c1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + b + 8));
    top = _mm_max_epu16(top, _mm_max_epu16(c0, c1));
    const __m128i w16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + b));
    dot8<Q>(i0, f0, w16, x8_at(x, col + b));
    dot8<Q>(i1, f1, _mm_srli_si128(w16, 8), x8_at(x, col + b + 8));
  }
  if (b + 8 <= n) {
    top = _mm_max_epu16(top, _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + b)));
    dot8<Q>(i0, f0, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + b)), x8_at(x, col + b));
    b += 8;
  }
  Acc<Q> s;
  if constexpr (Q) {
    const __m256i s8 = _mm256_add_epi32(i0, i1);
    const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    alignas(16) uint32_t l[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(l), s4);
    s = (l[0] + l[1]) + (l[2] + l[3]);
  } else {
    const __m256 s8 = _mm256_add_ps(f0, f1);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  }
  for (; b < n; ++b) {
    top = _mm_max_epu16(top, _mm_set1_epi16(static_cast<short>(col[b])));
    s += prod<Q>(q[b], x, col[b]);
  }
  return s;
}

SPARSE8_AVX2 SPARSE8_INLINE unsigned max_lane(__m128i top) {
  alignas(16) uint16_t lanes[8];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), top);
  return *std::max_element(lanes, lanes + 8);
}

// CSR rows [r0, r1) for one row of x; columns checked on the way (a bad one leaves
// garbage rows and is reported).
template <bool Q>
SPARSE8_AVX2 SPARSE8_INLINE bool csr_rows(const Packed8& p, const Act8& a, const float* x, int64_t n,
                                          int64_t r0, int64_t r1) {
  const Packed& w = p.w;
  const bool near = w.row_ptr[w.M] <= kNearWeights * w.M;
  float* y = a.y + n * a.ldy;
  __m128i top = _mm_setzero_si128();
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = w.row_ptr[r], e = w.row_ptr[r + 1];
    const Acc<Q> s = near ? csr_row<Q, true>(p.q + b, w.col + b, e - b, x, top)
                          : csr_row<Q, false>(p.q + b, w.col + b, e - b, x, top);
    y[r] = finish<Q>(s, p, a, n, r);
  }
  return w.row_ptr[r1] > w.row_ptr[r0] && max_lane(top) >= w.kb;
}

SPARSE8_AVX2 SPARSE8_INLINE bool rows_x86(const Packed8& p, const Act8& a, const void* xb, int64_t n,
                                          int64_t r0, int64_t r1) {
  const bool csr = !p.w.nm24 && p.w.R == 1 && p.w.C == 1;
  if (!csr) return rows_dispatch_scalar(p, a, xb, n, r0, r1);
  const float* x = static_cast<const float*>(xb);
  return a.quantized() ? csr_rows<true>(p, a, x, n, r0, r1) : csr_rows<false>(p, a, x, n, r0, r1);
}

}  // namespace

SPARSE8_AVX2 bool rows8_avx2(const Packed8& p, const Act8& a, const void* xb, int64_t n, int64_t r0,
                             int64_t r1) {
  return rows_x86(p, a, xb, n, r0, r1);
}

SPARSE8_AVX512 bool rows8_avx512(const Packed8& p, const Act8& a, const void* xb, int64_t n,
                                 int64_t r0, int64_t r1) {
  return rows_x86(p, a, xb, n, r0, r1);
}

#endif  // COMPRESSOR_SPARSE_X86

// ---- spmv8 --------------------------------------------------------------------------------

bool spmv8(const Packed8& p, const Act8& a) {
  const Packed& w = p.w;
  if (w.M == 0 || a.N == 0) return false;
  const Isa8Fns fns = isa8_fns();
  const int64_t macs = w.nnz() * w.R * w.C * a.N;
  const int64_t threads = macs < kParallelMacs ? 1 : at::get_num_threads();
  const int64_t parts = std::max<int64_t>(1, std::min(row_units(w), threads > 1 ? threads * 4 : 1));
  const std::vector<int64_t> bounds = balanced_chunks(w, parts);
  const int64_t Kp = w.padded_k();
  const bool bytes = fns.vnni_csr_rows != nullptr && a.quantized() && !w.nm24 && w.R * w.C == 1;
  const Rows8Fn rows = bytes ? fns.vnni_csr_rows : fns.rows;
  std::atomic<bool> bad{false};
  at::parallel_for(0, parts, threads > 1 ? 1 : parts, [&](int64_t begin, int64_t end) {
    uint32_t* xb = x_buffer(std::max(Kp, kByteRow / 4));
    bool my_bad = false;
    for (int64_t n = 0; n < a.N; ++n) {
      if (bytes) {
        prepare_row_bytes(a, n, w.K, reinterpret_cast<uint8_t*>(xb));
      } else {
        prepare_row(a, n, w.K, Kp, xb);
      }
      for (int64_t part = begin; part < end; ++part) {
        if (bounds[part] < bounds[part + 1]) my_bad |= rows(p, a, xb, n, bounds[part], bounds[part + 1]);
      }
    }
    if (my_bad) bad = true;
  });
  return bad;
}

}  // namespace compressor::cpu::sparse
