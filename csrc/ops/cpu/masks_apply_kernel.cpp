// CPU kernel of compressor::apply_mask_: w[~mask] = 0 in place (schema:
// csrc/ops/masks.cpp), run after every optimizer step.
//
// The mask is read 8 bytes at a time, 64 entries per block. A block whose mask
// is all True (the common case at low sparsity and in dense regions) does not
// touch w at all; any other block reads w and is written only when one of its
// pruned entries is not already zero, so re-applying a mask leaves the cache
// lines clean (no write-back). Zero is +0.0 (all bits clear), as masked_fill
// writes; mask bytes other than 0 count as True.
#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/isa.h"
#include "ops/checks/masks.h"

namespace compressor::cpu {
namespace {

constexpr int64_t kBlock = 64;
constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full;
constexpr uint64_t kHigh = 0x8080808080808080ull;

// Bits of U are the element's bits: zeroing needs no arithmetic.
template <typename U>
COMPRESSOR_ISA_CLONES void zero_pruned(U* w, const uint8_t* mask, int64_t n) {
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    uint64_t every = ~0ull;  // high bit of each byte set iff that byte is nonzero
    for (int64_t j = 0; j < kBlock; j += 8) {
      uint64_t v;
      std::memcpy(&v, mask + i + j, 8);
      every &= ((v & kLow7) + kLow7) | v;
    }
    if ((every & kHigh) == kHigh) continue;  // all kept
    U dirty = 0;  // bits of the entries to prune
    for (int64_t j = 0; j < kBlock; ++j) dirty |= mask[i + j] ? U{0} : w[i + j];
    if (dirty == 0) continue;  // already zero: leave the cache lines clean
    for (int64_t j = 0; j < kBlock; ++j) w[i + j] = mask[i + j] ? w[i + j] : U{0};
  }
  for (; i < n; ++i) {
    if (!mask[i]) w[i] = U{0};
  }
}

// w and mask: dense, with the same strides, so memory order matches.
void apply_dense(const at::Tensor& w, const at::Tensor& mask) {
  const int64_t n = w.numel();
  const auto* m = reinterpret_cast<const uint8_t*>(mask.const_data_ptr<bool>());
  auto run = [&](auto* data) {
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    at::parallel_for(0, blocks, at::internal::GRAIN_SIZE / kBlock, [&](int64_t b, int64_t e) {
      const int64_t lo = b * kBlock;
      zero_pruned(data + lo, m + lo, std::min(e * kBlock, n) - lo);
    });
  };
  switch (w.element_size()) {
    case 2:
      return run(static_cast<uint16_t*>(w.data_ptr()));
    case 4:
      return run(static_cast<uint32_t*>(w.data_ptr()));
    case 8:
      return run(static_cast<uint64_t*>(w.data_ptr()));
    default:
      TORCH_INTERNAL_ASSERT(false, "compressor: unchecked element size ", w.element_size());
  }
}

void apply_mask_cpu(const at::Tensor& w, const at::Tensor& mask) {
  check_float_cpu("apply_mask_", "w", w);
  TORCH_CHECK(mask.defined(), "compressor.apply_mask_: mask is an undefined tensor");
  TORCH_CHECK(mask.layout() == at::kStrided,
              "compressor.apply_mask_: mask must be a dense (strided) tensor, got layout ",
              mask.layout());
  TORCH_CHECK(mask.device() == w.device(), "compressor.apply_mask_: mask must be on w's device (",
              w.device(), "), got ", mask.device());
  TORCH_CHECK(mask.scalar_type() == at::kBool,
              "compressor.apply_mask_: mask must be torch.bool, got ",
              dtype_name(mask.scalar_type()));
  TORCH_CHECK(mask.sizes() == w.sizes(),
              "compressor.apply_mask_: mask must have the same shape as w (", w.sizes(), "), got ",
              mask.sizes());
  TORCH_CHECK(at::has_internal_overlap(w) != at::MemOverlap::Yes,
              "compressor.apply_mask_: w has elements that share memory (e.g. made by expand), "
              "so it cannot be written in place; pass a tensor that owns its elements");
  if (w.numel() == 0) return;
  if (w.is_non_overlapping_and_dense()) {
    // Walk w in memory order (also for transposed/permuted w), with the mask
    // brought into the same strides when it is not already.
    if (mask.strides() == w.strides()) {
      apply_dense(w, mask);
    } else {
      apply_dense(w, at::empty_strided(w.sizes(), w.strides(), mask.options()).copy_(mask));
    }
    return;
  }
  // Gaps between elements (e.g. a slice with a step): work on a packed copy.
  const at::Tensor packed = w.contiguous();
  apply_dense(packed, mask.contiguous());
  w.copy_(packed);
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("apply_mask_", &apply_mask_cpu);
}

}  // namespace compressor::cpu
