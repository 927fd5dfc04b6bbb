// Dynamic quantization of float32 activations for the int8 x int8 kernels
// (quantize_rows, int8.h): a statistics pass (min, max, finite) and a
// quantization pass, each parallel over rows; the element loops are
// multi-versioned per ISA (COMPRESSOR_ISA_CLONES) and vectorise.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/isa.h"
#include "cpu/sparse/int8.h"

namespace compressor::cpu::sparse {
namespace {

struct Stats {
  float lo = 0.0f, hi = 0.0f;  // min / max of the row and 0
  bool finite = true;
};

// min, max and finiteness of n floats (8 independent lanes so that the loop vectorises).
COMPRESSOR_ISA_CLONES Stats row_stats(const float* x, int64_t n) {
  float lo[8] = {}, hi[8] = {}, z[8] = {};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int j = 0; j < 8; ++j) {
      const float v = x[k + j];
      lo[j] = v < lo[j] ? v : lo[j];
      hi[j] = v > hi[j] ? v : hi[j];
      z[j] += v * 0.0f;  // NaN once any entry is inf or NaN
    }
  }
  for (; k < n; ++k) {
    lo[0] = x[k] < lo[0] ? x[k] : lo[0];
    hi[0] = x[k] > hi[0] ? x[k] : hi[0];
    z[0] += x[k] * 0.0f;
  }
  Stats s;
  for (int j = 0; j < 8; ++j) {
    s.lo = std::min(s.lo, lo[j]);
    s.hi = std::max(s.hi, hi[j]);
    s.finite &= z[j] == 0.0f;
  }
  return s;
}

// Round half to even for |v| < 2^22 (adding and subtracting 1.5 * 2^23 rounds in the
// default rounding mode): what torch.round does, without a libm call per element.
inline float round_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

template <class T>
COMPRESSOR_ISA_CLONES void quantize(const float* x, int64_t n, float scale, float zp, float lo,
                                    float hi, T* out) {
  for (int64_t k = 0; k < n; ++k) {
    float v = round_even(x[k] / scale) + zp;
    v = v < lo ? lo : (v > hi ? hi : v);
    out[k] = static_cast<T>(static_cast<int32_t>(v));
  }
}

// scale and zero point of one group's statistics (see int8.h).
void scale_zp(const Stats& s, bool is_signed, float* scale, int32_t* zp) {
  if (is_signed) {
    const float amax = std::max(-s.lo, s.hi);
    const float sc = amax / 127.0f;
    *scale = sc == 0.0f ? 1.0f : sc;
    *zp = 0;
    return;
  }
  const float sc = (s.hi - s.lo) / 255.0f;
  *scale = sc == 0.0f ? 1.0f : sc;
  const float z = round_even(-s.lo / *scale);
  *zp = static_cast<int32_t>(z < 0.0f ? 0.0f : (z > 255.0f ? 255.0f : z));
}

}  // namespace

bool quantize_rows(const float* x, int64_t ldx, int64_t N, int64_t K, bool per_row, bool is_signed,
                   void* xq, float* scale, int32_t* zp) {
  if (N == 0) {
    if (!per_row) scale_zp(Stats{}, is_signed, scale, zp);
    return true;
  }
  std::vector<Stats> stats(N);
  const int64_t grain = std::max<int64_t>(1, int64_t{32768} / std::max<int64_t>(1, K));
  at::parallel_for(0, N, grain, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) stats[n] = row_stats(x + n * ldx, K);
  });
  Stats all;
  for (const Stats& s : stats) {
    all.lo = std::min(all.lo, s.lo);
    all.hi = std::max(all.hi, s.hi);
    all.finite &= s.finite;
  }
  if (!all.finite) return false;
  if (per_row) {
    for (int64_t n = 0; n < N; ++n) scale_zp(stats[n], is_signed, scale + n, zp + n);
  } else {
    scale_zp(all, is_signed, scale, zp);
  }
  at::parallel_for(0, N, grain, [&](int64_t b, int64_t e) {
    for (int64_t n = b; n < e; ++n) {
      const float s = scale[per_row ? n : 0];
      const float z = static_cast<float>(zp[per_row ? n : 0]);
      if (is_signed) {
        quantize<int8_t>(x + n * ldx, K, s, z, -127.0f, 127.0f, static_cast<int8_t*>(xq) + n * K);
      } else {
        quantize<uint8_t>(x + n * ldx, K, s, z, 0.0f, 255.0f, static_cast<uint8_t*>(xq) + n * K);
      }
    }
  });
  return true;
}

}  // namespace compressor::cpu::sparse
