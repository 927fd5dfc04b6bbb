// Argument checks of the int8 sparse operators: the packed int8 weight (the
// layouts of checks/sparse.h with int8 values), its per-row scales and the
// quantization of x. Every tensor is checked before a data pointer is read;
// messages read "compressor.<op>: <argument> must ..., got ...".
#pragma once

#include <ATen/ATen.h>

#include <cmath>

#include "cpu/sparse/int8.h"
#include "ops/checks/sparse.h"

namespace compressor::cpu::sparse {

// Quantized x: the int32 sums are exact up to this many inputs (128 * 255 * 65536 < 2^31).
constexpr int64_t kMaxQ8Inputs = 65536;

inline Packed8 check_bsr8(const char* op, const at::Tensor& values, const at::Tensor& scales,
                          const at::Tensor& col_idx, const at::Tensor& row_ptr, int64_t M, int64_t K) {
  check_shape_arg(op, "out_features", M);
  check_shape_arg(op, "in_features", K);
  check_packed(op, "values", values, at::kChar, 3);
  check_block_shape(op, values.size(1), values.size(2));
  const int64_t R = values.size(1), C = values.size(2), nblocks = values.size(0);
  const int64_t kb = (K + C - 1) / C, rows = (M + R - 1) / R;
  TORCH_CHECK(kb <= kMaxBlockCols, "compressor.", op, ": in_features / block_cols must be at most ",
              kMaxBlockCols, " (16-bit column indices), got ", K, " / ", C);
  check_packed(op, "col_idx", col_idx, at::kShort, 1);
  TORCH_CHECK(col_idx.numel() == nblocks, "compressor.", op,
              ": col_idx must hold one entry per block of values (", nblocks, "), got ",
              col_idx.numel());
  check_packed(op, "row_ptr", row_ptr, at::kLong, 1);
  TORCH_CHECK(row_ptr.numel() == rows + 1, "compressor.", op, ": row_ptr must have ceil(",
              "out_features / block_rows) + 1 = ", rows + 1, " entries, got ", row_ptr.numel());
  const int64_t* rp = row_ptr.const_data_ptr<int64_t>();
  TORCH_CHECK(rp[0] == 0, "compressor.", op, ": row_ptr must start at 0, got ", rp[0]);
  for (int64_t i = 0; i < rows; ++i) {
    TORCH_CHECK(rp[i] <= rp[i + 1], "compressor.", op, ": row_ptr must be non-decreasing, got ",
                rp[i], " then ", rp[i + 1], " at index ", i);
  }
  TORCH_CHECK(rp[rows] == nblocks, "compressor.", op, ": row_ptr must end at the number of blocks (",
              nblocks, "), got ", rp[rows]);
  TORCH_CHECK(kb > 0 || nblocks == 0, "compressor.", op, ": in_features is 0 but values holds ",
              nblocks, " blocks");
  Packed8 p;
  p.w.R = static_cast<int>(R);
  p.w.C = static_cast<int>(C);
  p.w.M = M;
  p.w.K = K;
  p.w.kb = kb;
  p.w.col = reinterpret_cast<const uint16_t*>(col_idx.const_data_ptr<int16_t>());
  p.w.row_ptr = rp;
  p.q = values.const_data_ptr<int8_t>();
  return p;
}

inline Packed8 check_nm24_8(const char* op, const at::Tensor& values, const at::Tensor& indices,
                            int64_t K) {
  check_shape_arg(op, "in_features", K);
  check_packed(op, "values", values, at::kChar, 3);
  const int64_t M = values.size(0), G = (K + 3) / 4;
  TORCH_CHECK(values.size(1) == G && values.size(2) == 2, "compressor.", op,
              ": values must have shape [out_features, ceil(in_features / 4), 2] = [", M, ", ", G,
              ", 2], got ", values.sizes());
  check_packed(op, "indices", indices, at::kByte, 2);
  TORCH_CHECK(indices.size(0) == M && indices.size(1) == G, "compressor.", op,
              ": indices must have shape [out_features, ceil(in_features / 4)] = [", M, ", ", G,
              "], got ", indices.sizes());
  Packed8 p;
  p.w.nm24 = true;
  p.w.M = M;
  p.w.K = K;
  p.w.G = G;
  p.w.pos = indices.const_data_ptr<uint8_t>();
  p.q = values.const_data_ptr<int8_t>();
  return p;
}

// Per-row weight scales: float32 [out_features], finite and >= 0 (0 for an all-zero row).
inline void check_scales(const char* op, const at::Tensor& scales, Packed8& p) {
  check_packed(op, "scales", scales, at::kFloat, 1);
  TORCH_CHECK(scales.numel() == p.w.M, "compressor.", op, ": scales must have ", p.w.M,
              " (out_features) entries, got ", scales.numel());
  const float* s = scales.const_data_ptr<float>();
  for (int64_t m = 0; m < p.w.M; ++m) {
    TORCH_CHECK(std::isfinite(s[m]) && s[m] >= 0.0f, "compressor.", op,
                ": scales must be finite and >= 0, got ", s[m], " at index ", m);
  }
  p.scale = s;
}

// The quantization of x (N rows): x_scale float32 and x_zero_point int32, each 1-D with
// 1 (per tensor) or N (per row) entries; scales finite and > 0, zero points in the
// range of xq's dtype.
inline void check_x_quant(const char* op, const at::Tensor& x_scale, const at::Tensor& x_zp,
                          int64_t N, Act8& a) {
  check_packed(op, "x_scale", x_scale, at::kFloat, 1);
  check_packed(op, "x_zero_point", x_zp, at::kInt, 1);
  const int64_t n = x_scale.numel();
  TORCH_CHECK(n == 1 || n == N, "compressor.", op, ": x_scale must have 1 (per tensor) or ", N,
              " (per row of x) entries, got ", n);
  TORCH_CHECK(x_zp.numel() == n, "compressor.", op, ": x_zero_point must have as many entries as ",
              "x_scale (", n, "), got ", x_zp.numel());
  const float* s = x_scale.const_data_ptr<float>();
  const int32_t* z = x_zp.const_data_ptr<int32_t>();
  const int32_t lo = a.type == XType::kUint8 ? 0 : -128, hi = a.type == XType::kUint8 ? 255 : 127;
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(std::isfinite(s[i]) && s[i] > 0.0f, "compressor.", op,
                ": x_scale must be finite and > 0, got ", s[i], " at index ", i);
    TORCH_CHECK(z[i] >= lo && z[i] <= hi, "compressor.", op, ": x_zero_point must be in [", lo,
                ", ", hi, "] for ", a.type == XType::kUint8 ? "uint8" : "int8", " xq, got ", z[i],
                " at index ", i);
  }
  a.x_scale = s;
  a.x_zp = z;
  a.per_row = n == N && N != 1;
}

}  // namespace compressor::cpu::sparse
