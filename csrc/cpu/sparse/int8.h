// The int8 sparse engine (CPU): the packed formats of engine.h with int8
// values and one float32 scale per output row, times float32 activations
// (weight-only int8, "w8") or quantized uint8 / int8 activations (int8 x int8, "q8").
//
// Callers: csrc/ops/cpu/sparse_int8_kernel.cpp. Sources: int8_quant.cpp
// (activation quantization), int8_spmv.cpp and int8_spmv_vnni.cpp (rows layout,
// a few rows of x), int8_spmm.cpp and int8_tile.cpp (columns layout: driver and
// kernels), int8_internal.h (what they share).
//
// The weight q[M, K] is stored as in engine.h (CSR, 4x1 / 1x4 blocks, 2:4) with
// int8 values in place of the float32 ones; scale[m] multiplies row m.
//
// Arithmetic:
// * w8: y[n, m] = (sum_k q[m, k] * x[n, k]) * scale[m] (+ bias[m]), then ReLU;
//   the sum in float32, in an order of the kernel's choosing.
// * q8: acc[n, m] = sum_k q[m, k] * (xq[n, k] - zp[n]), exactly (int32: for
//   K <= 65536 every partial sum is below 128 * 255 * 65536 < 2^31); then, one
//   float32 operation at a time, y = float(acc) * (x_scale[n] * scale[m]),
//   y + bias[m], ReLU. Per-tensor quantization uses x_scale[0], zp[0] for every n.
//   The result is bit-identical to that sequence of operations in PyTorch.
//
// Every entry point runs the kernels of selected_isa() / selected_vnni()
// (csrc/cpu/isa.h) and throws its error for a bad COMPRESSOR_SPARSE_ISA before
// any work starts.
#pragma once

#include <cstdint>

#include "cpu/sparse/engine.h"

namespace compressor::cpu::sparse {

// An int8 packed weight whose tensors were validated by the caller; w.values is unused.
struct Packed8 {
  Packed w;
  const int8_t* q = nullptr;      // values, laid out as Packed::values
  const float* scale = nullptr;   // [M]
};

enum class XType { kFloat, kUint8, kInt8 };

// The activations x [N, K] (rows strided by ldx elements, entries contiguous),
// their quantization (q8) and the result y [N, M] (rows strided by ldy).
struct Act8 {
  XType type = XType::kFloat;
  const void* x = nullptr;
  int64_t ldx = 0;
  int64_t N = 0;
  const float* x_scale = nullptr;   // q8: [N] when per_row, else [1]
  const int32_t* x_zp = nullptr;    // q8: as x_scale; in [0, 255] (uint8) or [-128, 127] (int8)
  bool per_row = false;
  float* y = nullptr;
  int64_t ldy = 0;
  const float* bias = nullptr;      // [M] or null
  bool relu = false;

  bool quantized() const { return type != XType::kFloat; }
  float scale_of(int64_t n) const { return x_scale[per_row ? n : 0]; }
  int32_t zp_of(int64_t n) const { return x_zp[per_row ? n : 0]; }
};

// Both return true when a stored block column was out of range (>= kb); y then
// holds unspecified values and the caller reports the error. Row pointers must
// have been checked (monotone, within the stored blocks).
//
// Rows layout, for a few rows of x: the weight streams once per call (int8 values
// halve its bytes against float32), x is gathered.
bool spmv8(const Packed8& w, const Act8& a);
// Columns layout: x copied tile by tile into [K', tile] (transposed), each stored
// weight works on a tile of x columns; y transposed back.
bool spmm8(const Packed8& w, const Act8& a);

// Dynamic quantization of float32 x [N, K] (rows strided by ldx) into xq
// (contiguous [N, K], uint8 or int8), scale and zp ([N] per row, else [1]):
// * uint8 (asymmetric): lo = min(min x, 0), hi = max(max x, 0),
//   scale = (hi - lo) / 255 (1 when that is 0), zp = clamp(round(-lo / scale), 0, 255),
//   xq = clamp(round(x / scale) + zp, 0, 255);
// * int8 (symmetric): scale = max|x| / 127 (1 when 0), zp = 0,
//   xq = clamp(round(x / scale), -127, 127);
// round halves to even, each step one float32 operation (as the PyTorch
// reference). Returns false (nothing defined) when x holds an inf or NaN.
bool quantize_rows(const float* x, int64_t ldx, int64_t N, int64_t K, bool per_row, bool is_signed,
                   void* xq, float* scale, int32_t* zp);

}  // namespace compressor::cpu::sparse
