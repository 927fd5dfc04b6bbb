// Schemas of the sparse inference operators, torch.ops.compressor.sparse_*.
//
// Formats (see csrc/cpu/sparse/engine.h for the exact layout):
//   bsr  = block CSR with block shape (R, C) in {(1, 1), (4, 1), (1, 4)}:
//          values float32 [nblocks, R, C], col_idx int16 [nblocks] (block columns,
//          read as uint16), row_ptr int64 [ceil(out / R) + 1]. (1, 1) is CSR.
//   nm24 = 2:4 (at most 2 non-zeros in every group of 4 consecutive inputs):
//          values float32 [out, ceil(in / 4), 2], indices uint8 [out, ceil(in / 4)].
//
// int8 weights (the *_w8 / *_q8 ops): the same layouts with values int8 in
// place of float32, and scales float32 [out] (row m of W is scales[m] * values).
//
// Kernels: csrc/ops/cpu/sparse_*_kernel.cpp, on the engine in csrc/cpu/sparse/.
// Typed wrappers and fake (meta) implementations: compressor/ops/sparse.py.
// Inference only: no autograd.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(compressor, m) {
  // Packs a 2-D float32 weight [out, in]; a block is stored when any of its
  // entries is non-zero (NaN counts as non-zero).
  m.def("sparse_bsr_pack(Tensor weight, int block_rows, int block_cols) -> "
        "(Tensor values, Tensor col_idx, Tensor row_ptr)");
  // Packs a 2-D float32 weight that is 2:4 sparse along its inputs; fails naming
  // the first group with more than two non-zeros.
  m.def("sparse_nm24_pack(Tensor weight) -> (Tensor values, Tensor indices)");
  // y = x @ W^T (+ bias), then ReLU when relu; x [..., in_features] -> [..., out_features].
  m.def("sparse_bsr_linear(Tensor x, Tensor values, Tensor col_idx, Tensor row_ptr, "
        "int out_features, int in_features, Tensor? bias=None, bool relu=False) -> Tensor");
  m.def("sparse_nm24_linear(Tensor x, Tensor values, Tensor indices, int in_features, "
        "Tensor? bias=None, bool relu=False) -> Tensor");
  // F.conv2d with groups=1 and zero padding, for a weight [out, in, kh, kw]
  // (weight_shape) packed as the 2-D [out, in * kh * kw] matrix whose columns are
  // ordered (in, kh, kw) as weight.flatten(1), or (kh, kw, in) when hwc, as
  // weight.permute(0, 2, 3, 1).flatten(1). x: [N, in, H, W] or [in, H, W].
  m.def("sparse_bsr_conv2d(Tensor x, Tensor values, Tensor col_idx, Tensor row_ptr, "
        "int[4] weight_shape, Tensor? bias, int[2] stride, int[2] padding, int[2] dilation, "
        "bool hwc=False, bool relu=False) -> Tensor");
  m.def("sparse_nm24_conv2d(Tensor x, Tensor values, Tensor indices, int[4] weight_shape, "
        "Tensor? bias, int[2] stride, int[2] padding, int[2] dilation, bool hwc=False, "
        "bool relu=False) -> Tensor");

  // ---- int8 weights (exact arithmetic: csrc/cpu/sparse/int8.h) ----
  // Weight-only int8: y = x @ (scales[:, None] * W)^T (+ bias), then ReLU when relu;
  // x float32 [..., in_features], sums in float32.
  m.def("sparse_bsr_linear_w8(Tensor x, Tensor values, Tensor scales, Tensor col_idx, "
        "Tensor row_ptr, int out_features, int in_features, Tensor? bias=None, bool relu=False) "
        "-> Tensor");
  m.def("sparse_nm24_linear_w8(Tensor x, Tensor values, Tensor indices, Tensor scales, "
        "int in_features, Tensor? bias=None, bool relu=False) -> Tensor");
  // Dynamic quantization of float32 x [..., K] per tensor (scale, zero_point [1]) or per
  // row of x (shape [prod(x.shape[:-1])]): uint8 asymmetric, or int8 symmetric (zero
  // point 0, values in [-127, 127]) when symmetric. Fails for an inf or NaN in x.
  m.def("sparse_quantize_activations(Tensor x, bool per_row=False, bool symmetric=False) -> "
        "(Tensor xq, Tensor scale, Tensor zero_point)");
  // int8 x int8: acc = sum_k W[m, k] * (xq[n, k] - x_zero_point[n]) exactly (int32,
  // in_features <= 65536), y = float(acc) * (x_scale[n] * scales[m]) (+ bias[m]), then
  // ReLU; xq uint8 or int8 [..., in_features], x_scale float32 / x_zero_point int32
  // with 1 or prod(xq.shape[:-1]) entries.
  m.def("sparse_bsr_linear_q8(Tensor xq, Tensor x_scale, Tensor x_zero_point, Tensor values, "
        "Tensor scales, Tensor col_idx, Tensor row_ptr, int out_features, int in_features, "
        "Tensor? bias=None, bool relu=False) -> Tensor");
  m.def("sparse_nm24_linear_q8(Tensor xq, Tensor x_scale, Tensor x_zero_point, Tensor values, "
        "Tensor indices, Tensor scales, int in_features, Tensor? bias=None, bool relu=False) "
        "-> Tensor");
}
