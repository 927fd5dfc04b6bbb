// Argument checks of the sparse operators: every tensor is checked (defined,
// strided, CPU, dtype, shape, contiguity of the packed tensors) and the packed
// format's invariants that a kernel relies on are verified in O(rows) before a
// data pointer is read. Messages read "compressor.<op>: <argument> must ..., got ...".
// Block column indices are bounded inside the engine (csrc/cpu/sparse/engine.h).
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "cpu/sparse/engine.h"
#include "ops/checks/common.h"

namespace compressor::cpu::sparse {

inline void check_tensor(const char* op, const char* arg, const at::Tensor& t, at::ScalarType dtype) {
  check_dense_cpu(op, arg, t);
  TORCH_CHECK(t.scalar_type() == dtype, "compressor.", op, ": ", arg, " must be ", dtype_name(dtype),
              ", got ", dtype_name(t.scalar_type()));
}

// A packed tensor: exact dtype, dimension count and contiguity.
inline void check_packed(const char* op, const char* arg, const at::Tensor& t, at::ScalarType dtype,
                         int64_t dim) {
  check_tensor(op, arg, t, dtype);
  TORCH_CHECK(t.dim() == dim, "compressor.", op, ": ", arg, " must be ", dim, "-D, got shape ",
              t.sizes());
  TORCH_CHECK(t.is_contiguous(), "compressor.", op, ": ", arg,
              " must be contiguous (as the pack op returns it), got strides ", t.strides());
}

inline void check_shape_arg(const char* op, const char* arg, int64_t v) {
  TORCH_CHECK(v >= 0, "compressor.", op, ": ", arg, " must be >= 0, got ", v);
}

// Block column indices are 16-bit: K / C block columns at most.
constexpr int64_t kMaxBlockCols = 65536;

inline void check_block_shape(const char* op, int64_t R, int64_t C) {
  TORCH_CHECK((R == 1 && C == 1) || (R == 4 && C == 1) || (R == 1 && C == 4), "compressor.", op,
              ": the block shape (block_rows, block_cols) must be (1, 1), (4, 1) or (1, 4), got (",
              R, ", ", C, ")");
}

inline Packed check_bsr(const char* op, const at::Tensor& values, const at::Tensor& col_idx,
                        const at::Tensor& row_ptr, int64_t M, int64_t K) {
  check_shape_arg(op, "out_features", M);
  check_shape_arg(op, "in_features", K);
  check_packed(op, "values", values, at::kFloat, 3);
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
  TORCH_CHECK(kb > 0 || nblocks == 0, "compressor.", op,
              ": in_features is 0 but values holds ", nblocks, " blocks");
  Packed w;
  w.R = static_cast<int>(R);
  w.C = static_cast<int>(C);
  w.M = M;
  w.K = K;
  w.kb = kb;
  w.values = values.const_data_ptr<float>();
  w.col = reinterpret_cast<const uint16_t*>(col_idx.const_data_ptr<int16_t>());
  w.row_ptr = rp;
  return w;
}

inline Packed check_nm24(const char* op, const at::Tensor& values, const at::Tensor& indices,
                         int64_t K) {
  check_shape_arg(op, "in_features", K);
  check_packed(op, "values", values, at::kFloat, 3);
  const int64_t M = values.size(0), G = (K + 3) / 4;
  TORCH_CHECK(values.size(1) == G && values.size(2) == 2, "compressor.", op,
              ": values must have shape [out_features, ceil(in_features / 4), 2] = [", M, ", ", G,
              ", 2], got ", values.sizes());
  check_packed(op, "indices", indices, at::kByte, 2);
  TORCH_CHECK(indices.size(0) == M && indices.size(1) == G, "compressor.", op,
              ": indices must have shape [out_features, ceil(in_features / 4)] = [", M, ", ", G,
              "], got ", indices.sizes());
  Packed w;
  w.nm24 = true;
  w.M = M;
  w.K = K;
  w.G = G;
  w.values = values.const_data_ptr<float>();
  w.pos = indices.const_data_ptr<uint8_t>();
  return w;
}

inline const float* check_bias(const char* op, const std::optional<at::Tensor>& bias, int64_t M) {
  if (!bias.has_value() || !bias->defined()) return nullptr;
  check_packed(op, "bias", *bias, at::kFloat, 1);
  TORCH_CHECK(bias->numel() == M, "compressor.", op, ": bias must have ", M,
              " (out_features) entries, got ", bias->numel());
  return bias->const_data_ptr<float>();
}

inline void check_columns_in_range(const char* op, bool bad, const Packed& w) {
  TORCH_CHECK(!bad, "compressor.", op, ": col_idx holds a block column >= ceil(in_features / ",
              "block_cols) = ", w.kb, "; the packed weight is corrupt or packed for another shape");
}

}  // namespace compressor::cpu::sparse
