// CPU kernels of compressor::sparse_bsr_linear and compressor::sparse_nm24_linear
// (schemas: csrc/ops/sparse.cpp): y = x @ W^T (+ bias), optionally ReLU.
//
// A few rows of x (batch 1) take the rows layout: x as it is, W streamed once,
// x gathered. Larger batches take the columns layout: the engine transposes x
// tile by tile to [in, batch tile] (zero rows padded up to whole 1x4 blocks / 2:4
// groups), each stored weight does vector FMAs over the batch, and the [out,
// batch tile] results are transposed back into y.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cstdlib>
#include <optional>

#include "cpu/sparse/engine.h"
#include "ops/checks/sparse.h"

namespace compressor::cpu::sparse {
namespace {

// Up to this many rows of x use the rows layout (COMPRESSOR_SPARSE_ROWS_MAX overrides).
int64_t rows_layout_max() {
  const char* env = std::getenv("COMPRESSOR_SPARSE_ROWS_MAX");
  if (env != nullptr && *env != '\0') return std::atoll(env);
  return 2;
}

at::Tensor linear(const char* op, const at::Tensor& x, const Packed& w, const float* bias,
                  bool relu) {
  check_tensor(op, "x", x, at::kFloat);
  TORCH_CHECK(x.dim() >= 1, "compressor.", op,
              ": x must have at least 1 dimension, got a 0-dim tensor");
  TORCH_CHECK(x.size(-1) == w.K, "compressor.", op, ": x must have in_features = ", w.K,
              " entries in its last dimension, got shape ", x.sizes());
  const int64_t M = w.M, K = w.K;
  std::vector<int64_t> out_sizes = x.sizes().vec();
  out_sizes.back() = M;
  int64_t N = 1;
  for (int64_t i = 0; i + 1 < x.dim(); ++i) N *= x.size(i);
  if (N == 0 || M == 0) return at::empty(out_sizes, x.options());
  const at::Tensor x2 = x.reshape({N, K});
  const int64_t Kp = w.padded_k();

  Operands o;
  o.N = N;
  o.bias = bias;
  o.relu = relu;
  bool bad = false;
  at::Tensor y;
  if (N <= rows_layout_max()) {
    at::Tensor xr = x2;
    if (Kp != K || x2.stride(1) != 1) {
      xr = at::zeros({N, Kp}, x.options());
      xr.narrow(1, 0, K).copy_(x2);
    }
    y = at::empty({N, M}, x.options());
    o.x = xr.const_data_ptr<float>();
    o.ldx = xr.stride(0);
    o.y = y.mutable_data_ptr<float>();
    o.ldy = M;
    bad = spmv(w, o);
  } else {
    at::Tensor xr = x2.stride(1) == 1 ? x2 : x2.contiguous();
    y = at::empty({N, M}, x.options());
    o.x = xr.const_data_ptr<float>();
    o.ldx = xr.stride(0);
    o.x_rows = true;
    o.y = y.mutable_data_ptr<float>();
    o.ldy = M;
    o.y_rows = true;
    bad = spmm(w, o);
  }
  check_columns_in_range(op, bad, w);
  return y.view(out_sizes);
}

at::Tensor bsr_linear_cpu(const at::Tensor& x, const at::Tensor& values, const at::Tensor& col_idx,
                          const at::Tensor& row_ptr, int64_t out_features, int64_t in_features,
                          const std::optional<at::Tensor>& bias, bool relu) {
  const char* op = "sparse_bsr_linear";
  const Packed w = check_bsr(op, values, col_idx, row_ptr, out_features, in_features);
  const float* b = check_bias(op, bias, out_features);
  return linear(op, x, w, b, relu);
}

at::Tensor nm24_linear_cpu(const at::Tensor& x, const at::Tensor& values, const at::Tensor& indices,
                           int64_t in_features, const std::optional<at::Tensor>& bias, bool relu) {
  const char* op = "sparse_nm24_linear";
  const Packed w = check_nm24(op, values, indices, in_features);
  const float* b = check_bias(op, bias, w.M);
  return linear(op, x, w, b, relu);
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("sparse_bsr_linear", &bsr_linear_cpu);
  m.impl("sparse_nm24_linear", &nm24_linear_cpu);
}

}  // namespace compressor::cpu::sparse
