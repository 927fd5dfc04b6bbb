// Argument checks of the mask operators (masks.cpp), shared with the
// structured-pruning and thinning kernels, which take the same weights.
//
// Every kernel validates its arguments with these before it touches a data
// pointer. Messages read "compressor.<op>: <argument> must ..., got ...".
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "ops/checks/common.h"

namespace compressor {

inline bool is_mask_float(at::ScalarType st) {
  return st == at::kFloat || st == at::kHalf || st == at::kBFloat16 || st == at::kDouble;
}

// A dense CPU tensor of a floating dtype the mask kernels support.
inline void check_float_cpu(const char* op, const std::string& arg, const at::Tensor& t) {
  check_dense_cpu(op, arg, t);
  TORCH_CHECK(is_mask_float(t.scalar_type()), "compressor.", op, ": ", arg,
              " must be torch.float32, torch.float16, torch.bfloat16 or torch.float64, got ",
              dtype_name(t.scalar_type()));
}

inline void check_sparsity(const char* op, double sparsity) {
  // Written so that NaN fails too.
  TORCH_CHECK(sparsity >= 0.0 && sparsity <= 1.0, "compressor.", op,
              ": sparsity must be in [0, 1], got ", sparsity);
}

}  // namespace compressor
