// Argument checks shared by every operator family (masks.h, sparse.h build on
// them). Messages read "compressor.<op>: <argument> must ..., got ...".
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace compressor {

// "torch.float32" rather than ATen's "Float".
inline std::string dtype_name(at::ScalarType st) {
  return "torch." + std::string(c10::getDtypeNames(st).first);
}

// A defined, dense (strided) CPU tensor.
inline void check_dense_cpu(const char* op, const std::string& arg, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), "compressor.", op, ": ", arg, " is an undefined tensor");
  TORCH_CHECK(t.layout() == at::kStrided, "compressor.", op, ": ", arg,
              " must be a dense (strided) tensor, got layout ", t.layout());
  TORCH_CHECK(t.device().is_cpu(), "compressor.", op, ": ", arg,
              " must be on the CPU (no kernel for its device is built), got device ", t.device());
}

}  // namespace compressor
