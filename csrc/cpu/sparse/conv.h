// The convolution of the sparse engine: F.conv2d with groups=1 and zero
// padding for a packed weight [out, in * kh * kw], on top of spmm / spmm_tile.
// The operators (argument checks, output tensor): csrc/ops/cpu/sparse_conv_kernel.cpp.
#pragma once

#include <cstdint>

#include "cpu/sparse/engine.h"

namespace compressor::cpu::sparse {

// A convolution's shape; the caller has checked that the output is at least 1 x 1.
struct ConvGeometry {
  int64_t I = 0, H = 0, W = 0;   // input channels and size
  int64_t kh = 0, kw = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t Ho = 0, Wo = 0;
  bool hwc = false;              // im2col rows ordered (kh, kw, in) instead of (in, kh, kw)
};

// y[b] = conv(x[b]) (+ bias, relu) for the B images of x [B, I, H, W] (contiguous)
// into y [B, M, Ho, Wo] (contiguous). True when a stored block column was out of
// range; y is then undefined and the caller reports the error.
bool conv2d(const ConvGeometry& g, const Packed& w, const float* x, int64_t B, const float* bias,
            bool relu, float* y);

}  // namespace compressor::cpu::sparse
