// CPU kernels of the int8 sparse operators (schemas: csrc/ops/sparse.cpp):
// compressor::sparse_{bsr,nm24}_linear_w8 (int8 weights, float32 x),
// compressor::sparse_{bsr,nm24}_linear_q8 (int8 weights, quantized x) and
// compressor::sparse_quantize_activations. Argument checks and output tensors;
// the arithmetic is the int8 engine's (csrc/cpu/sparse/int8.h).
//
// As the float operators: up to two rows of x take the rows layout, more rows
// the columns layout.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cstdlib>
#include <optional>
#include <tuple>

#include "cpu/sparse/int8.h"
#include "ops/checks/sparse_int8.h"

namespace compressor::cpu::sparse {
namespace {

// Up to this many rows of x use the rows layout (COMPRESSOR_SPARSE_ROWS_MAX overrides).
int64_t rows_layout_max() {
  const char* env = std::getenv("COMPRESSOR_SPARSE_ROWS_MAX");
  if (env != nullptr && *env != '\0') return std::atoll(env);
  return 2;
}

// x as [N, K] rows with contiguous entries, and N.
std::tuple<at::Tensor, int64_t> rows_of(const char* op, const char* name, const at::Tensor& x,
                                        int64_t K) {
  TORCH_CHECK(x.dim() >= 1, "compressor.", op, ": ", name,
              " must have at least 1 dimension, got a 0-dim tensor");
  TORCH_CHECK(x.size(-1) == K, "compressor.", op, ": ", name, " must have in_features = ", K,
              " entries in its last dimension, got shape ", x.sizes());
  int64_t N = 1;
  for (int64_t i = 0; i + 1 < x.dim(); ++i) N *= x.size(i);
  at::Tensor x2 = x.reshape({N, K});
  if (x2.stride(1) != 1 && K > 1) x2 = x2.contiguous();
  return {x2, N};
}

at::Tensor run(const char* op, const at::Tensor& x, const at::Tensor& x2, const Packed8& p, Act8& a) {
  std::vector<int64_t> out_sizes = x.sizes().vec();
  out_sizes.back() = p.w.M;
  at::Tensor y = at::empty({a.N, p.w.M}, x.options().dtype(at::kFloat));
  if (a.N == 0 || p.w.M == 0) return y.view(out_sizes);
  a.x = x2.const_data_ptr();
  a.ldx = x2.size(1) > 0 ? x2.stride(0) : 0;
  a.y = y.mutable_data_ptr<float>();
  a.ldy = p.w.M;
  const bool bad = a.N <= rows_layout_max() ? spmv8(p, a) : spmm8(p, a);
  check_columns_in_range(op, bad, p.w);
  return y.view(out_sizes);
}

at::Tensor linear_w8(const char* op, const at::Tensor& x, Packed8& p, const at::Tensor& scales,
                     const std::optional<at::Tensor>& bias, bool relu) {
  check_scales(op, scales, p);
  Act8 a;
  a.bias = check_bias(op, bias, p.w.M);
  a.relu = relu;
  check_tensor(op, "x", x, at::kFloat);
  auto [x2, N] = rows_of(op, "x", x, p.w.K);
  a.N = N;
  return run(op, x, x2, p, a);
}

at::Tensor linear_q8(const char* op, const at::Tensor& xq, const at::Tensor& x_scale,
                     const at::Tensor& x_zp, Packed8& p, const at::Tensor& scales,
                     const std::optional<at::Tensor>& bias, bool relu) {
  check_scales(op, scales, p);
  Act8 a;
  a.bias = check_bias(op, bias, p.w.M);
  a.relu = relu;
  check_dense_cpu(op, "xq", xq);
  TORCH_CHECK(xq.scalar_type() == at::kByte || xq.scalar_type() == at::kChar, "compressor.", op,
              ": xq must be torch.uint8 or torch.int8, got ", dtype_name(xq.scalar_type()));
  a.type = xq.scalar_type() == at::kByte ? XType::kUint8 : XType::kInt8;
  TORCH_CHECK(p.w.K <= kMaxQ8Inputs, "compressor.", op, ": in_features must be at most ",
              kMaxQ8Inputs, " with quantized x (the int32 sums are exact up to there), got ",
              p.w.K);
  auto [x2, N] = rows_of(op, "xq", xq, p.w.K);
  a.N = N;
  check_x_quant(op, x_scale, x_zp, N, a);
  return run(op, xq, x2, p, a);
}

at::Tensor bsr_linear_w8_cpu(const at::Tensor& x, const at::Tensor& values, const at::Tensor& scales,
                             const at::Tensor& col_idx, const at::Tensor& row_ptr, int64_t out_features,
                             int64_t in_features, const std::optional<at::Tensor>& bias, bool relu) {
  const char* op = "sparse_bsr_linear_w8";
  Packed8 p = check_bsr8(op, values, scales, col_idx, row_ptr, out_features, in_features);
  return linear_w8(op, x, p, scales, bias, relu);
}

at::Tensor nm24_linear_w8_cpu(const at::Tensor& x, const at::Tensor& values, const at::Tensor& indices,
                              const at::Tensor& scales, int64_t in_features,
                              const std::optional<at::Tensor>& bias, bool relu) {
  const char* op = "sparse_nm24_linear_w8";
  Packed8 p = check_nm24_8(op, values, indices, in_features);
  return linear_w8(op, x, p, scales, bias, relu);
}

at::Tensor bsr_linear_q8_cpu(const at::Tensor& xq, const at::Tensor& x_scale, const at::Tensor& x_zp,
                             const at::Tensor& values, const at::Tensor& scales,
                             const at::Tensor& col_idx, const at::Tensor& row_ptr, int64_t out_features,
                             int64_t in_features, const std::optional<at::Tensor>& bias, bool relu) {
  const char* op = "sparse_bsr_linear_q8";
  Packed8 p = check_bsr8(op, values, scales, col_idx, row_ptr, out_features, in_features);
  return linear_q8(op, xq, x_scale, x_zp, p, scales, bias, relu);
}

at::Tensor nm24_linear_q8_cpu(const at::Tensor& xq, const at::Tensor& x_scale, const at::Tensor& x_zp,
                              const at::Tensor& values, const at::Tensor& indices,
                              const at::Tensor& scales, int64_t in_features,
                              const std::optional<at::Tensor>& bias, bool relu) {
  const char* op = "sparse_nm24_linear_q8";
  Packed8 p = check_nm24_8(op, values, indices, in_features);
  return linear_q8(op, xq, x_scale, x_zp, p, scales, bias, relu);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> quantize_activations_cpu(const at::Tensor& x,
                                                                        bool per_row, bool symmetric) {
  const char* op = "sparse_quantize_activations";
  check_tensor(op, "x", x, at::kFloat);
  TORCH_CHECK(x.dim() >= 1, "compressor.", op, ": x must have at least 1 dimension, got a 0-dim tensor");
  const int64_t K = x.size(-1);
  auto [x2, N] = rows_of(op, "x", x, K);
  at::Tensor xq = at::empty(x.sizes(), x.options().dtype(symmetric ? at::kChar : at::kByte));
  const int64_t groups = per_row ? N : 1;
  at::Tensor scale = at::empty({groups}, x.options());
  at::Tensor zp = at::empty({groups}, x.options().dtype(at::kInt));
  const bool finite = quantize_rows(x2.const_data_ptr<float>(), K > 0 ? x2.stride(0) : 0, N, K,
                                    per_row, symmetric, xq.mutable_data_ptr(),
                                    scale.mutable_data_ptr<float>(), zp.mutable_data_ptr<int32_t>());
  TORCH_CHECK(finite, "compressor.", op, ": x holds an inf or NaN, which has no quantized value");
  return {xq, scale, zp};
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("sparse_bsr_linear_w8", &bsr_linear_w8_cpu);
  m.impl("sparse_nm24_linear_w8", &nm24_linear_w8_cpu);
  m.impl("sparse_bsr_linear_q8", &bsr_linear_q8_cpu);
  m.impl("sparse_nm24_linear_q8", &nm24_linear_q8_cpu);
  m.impl("sparse_quantize_activations", &quantize_activations_cpu);
}

}  // namespace compressor::cpu::sparse
