// CPU kernels of compressor::sparse_bsr_conv2d and compressor::sparse_nm24_conv2d
// (schemas: csrc/ops/sparse.cpp): F.conv2d with groups=1 and zero padding.
// Argument checks, the output size and tensor; the convolution itself is the
// sparse engine's (csrc/cpu/sparse/conv.h).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <optional>

#include "cpu/sparse/conv.h"
#include "ops/checks/sparse.h"

namespace compressor::cpu::sparse {
namespace {

constexpr int64_t kMaxGeometry = int64_t{1} << 31;

void check_pair(const char* op, const char* arg, c10::IntArrayRef v, int64_t min) {
  TORCH_CHECK(v.size() == 2, "compressor.", op, ": ", arg, " must have 2 entries, got ", v.size());
  TORCH_CHECK(v[0] >= min && v[1] >= min, "compressor.", op, ": ", arg, " must be >= ", min,
              ", got ", v);
  // Bounded so that the output-size arithmetic cannot overflow.
  TORCH_CHECK(v[0] <= kMaxGeometry && v[1] <= kMaxGeometry, "compressor.", op, ": ", arg,
              " must be <= 2^31, got ", v);
}

void check_weight_shape(const char* op, c10::IntArrayRef s) {
  TORCH_CHECK(s.size() == 4, "compressor.", op,
              ": weight_shape must be [out_channels, in_channels, kh, kw], got ", s);
  TORCH_CHECK(s[0] >= 0 && s[1] >= 1 && s[2] >= 1 && s[3] >= 1, "compressor.", op,
              ": weight_shape must have out_channels >= 0 and in_channels, kh, kw >= 1, got ", s);
  for (int64_t v : s) {
    TORCH_CHECK(v <= kMaxGeometry, "compressor.", op,
                ": weight_shape entries must be <= 2^31, got ", s);
  }
}

// in * kh * kw, the columns of the 2-D weight matrix (checked for overflow).
int64_t weight_columns(const char* op, c10::IntArrayRef s) {
  int64_t k = 0;
  const bool overflow = __builtin_mul_overflow(s[1], s[2], &k) || __builtin_mul_overflow(k, s[3], &k);
  TORCH_CHECK(!overflow, "compressor.", op, ": in_channels * kh * kw overflows, weight_shape ", s);
  return k;
}

at::Tensor checked_conv2d(const char* op, const at::Tensor& x, const Packed& w, c10::IntArrayRef wshape,
                  const float* bias, c10::IntArrayRef stride, c10::IntArrayRef padding,
                  c10::IntArrayRef dilation, bool hwc, bool relu) {
  check_pair(op, "stride", stride, 1);
  check_pair(op, "padding", padding, 0);
  check_pair(op, "dilation", dilation, 1);
  check_tensor(op, "x", x, at::kFloat);
  TORCH_CHECK(x.dim() == 3 || x.dim() == 4, "compressor.", op,
              ": x must be 4-D [batch, in_channels, H, W] or 3-D [in_channels, H, W], got shape ",
              x.sizes());
  ConvGeometry g;
  g.I = wshape[1];
  g.kh = wshape[2];
  g.kw = wshape[3];
  g.sh = stride[0];
  g.sw = stride[1];
  g.ph = padding[0];
  g.pw = padding[1];
  g.dh = dilation[0];
  g.dw = dilation[1];
  g.hwc = hwc;
  TORCH_CHECK(x.size(-3) == g.I, "compressor.", op, ": x must have in_channels = ", g.I,
              " channels (dimension -3), got shape ", x.sizes());
  g.H = x.size(-2);
  g.W = x.size(-1);
  const int64_t span_h = g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1;
  const int64_t span_w = g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1;
  TORCH_CHECK(span_h >= 0 && span_w >= 0, "compressor.", op, ": the padded input (", g.H, " + 2*",
              g.ph, ") x (", g.W, " + 2*", g.pw, ") is smaller than the dilated kernel (",
              g.dh * (g.kh - 1) + 1, " x ", g.dw * (g.kw - 1) + 1, ")");
  g.Ho = span_h / g.sh + 1;
  g.Wo = span_w / g.sw + 1;

  const at::Tensor x4 = (x.dim() == 3 ? x.unsqueeze(0) : x).contiguous();
  const int64_t B = x4.size(0), M = w.M, P = g.Ho * g.Wo;
  at::Tensor y = at::empty({B, M, g.Ho, g.Wo}, x.options());
  if (B == 0 || M == 0 || P == 0) return x.dim() == 3 ? y.squeeze(0) : y;
  const bool bad = conv2d(g, w, x4.const_data_ptr<float>(), B, bias, relu, y.mutable_data_ptr<float>());
  check_columns_in_range(op, bad, w);
  return x.dim() == 3 ? y.squeeze(0) : y;
}

at::Tensor bsr_conv2d_cpu(const at::Tensor& x, const at::Tensor& values, const at::Tensor& col_idx,
                          const at::Tensor& row_ptr, c10::IntArrayRef weight_shape,
                          const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
                          c10::IntArrayRef padding, c10::IntArrayRef dilation, bool hwc, bool relu) {
  const char* op = "sparse_bsr_conv2d";
  check_weight_shape(op, weight_shape);
  const int64_t M = weight_shape[0], K = weight_columns(op, weight_shape);
  const Packed w = check_bsr(op, values, col_idx, row_ptr, M, K);
  const float* b = check_bias(op, bias, M);
  return checked_conv2d(op, x, w, weight_shape, b, stride, padding, dilation, hwc, relu);
}

at::Tensor nm24_conv2d_cpu(const at::Tensor& x, const at::Tensor& values, const at::Tensor& indices,
                           c10::IntArrayRef weight_shape, const std::optional<at::Tensor>& bias,
                           c10::IntArrayRef stride, c10::IntArrayRef padding,
                           c10::IntArrayRef dilation, bool hwc, bool relu) {
  const char* op = "sparse_nm24_conv2d";
  check_weight_shape(op, weight_shape);
  const int64_t M = weight_shape[0], K = weight_columns(op, weight_shape);
  const Packed w = check_nm24(op, values, indices, K);
  TORCH_CHECK(w.M == M, "compressor.", op, ": values must have out_channels = ", M,
              " rows (weight_shape[0]), got ", w.M);
  const float* b = check_bias(op, bias, M);
  return checked_conv2d(op, x, w, weight_shape, b, stride, padding, dilation, hwc, relu);
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("sparse_bsr_conv2d", &bsr_conv2d_cpu);
  m.impl("sparse_nm24_conv2d", &nm24_conv2d_cpu);
}

}  // namespace compressor::cpu::sparse
