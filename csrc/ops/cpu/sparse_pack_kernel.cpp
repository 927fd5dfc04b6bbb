// CPU kernels of compressor::sparse_bsr_pack and compressor::sparse_nm24_pack
// (schemas: csrc/ops/sparse.cpp): a dense 2-D weight into the packed formats of
// csrc/cpu/sparse/engine.h. Built once per layer; two parallel passes over
// the weight (count, then fill), so the result does not depend on the threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <atomic>
#include <cstring>
#include <limits>
#include <tuple>

#include "ops/checks/sparse.h"

namespace compressor::cpu::sparse {
namespace {

void check_weight(const char* op, const at::Tensor& w) {
  check_tensor(op, "weight", w, at::kFloat);
  TORCH_CHECK(w.dim() == 2, "compressor.", op, ": weight must be 2-D [out_features, in_features], ",
              "got shape ", w.sizes());
}

// NaN counts as non-zero; -0.0 as zero.
inline bool nonzero(float v) { return v != 0.0f; }

std::tuple<at::Tensor, at::Tensor, at::Tensor> bsr_pack_cpu(const at::Tensor& weight,
                                                            int64_t block_rows, int64_t block_cols) {
  const char* op = "sparse_bsr_pack";
  check_weight(op, weight);
  check_block_shape(op, block_rows, block_cols);
  const int64_t R = block_rows, C = block_cols;
  const int64_t M = weight.size(0), K = weight.size(1);
  const int64_t kb = (K + C - 1) / C, rows = (M + R - 1) / R;
  TORCH_CHECK(kb <= kMaxBlockCols, "compressor.", op, ": in_features / block_cols must be at most ",
              kMaxBlockCols, " (16-bit column indices), got ", K, " / ", C);
  const at::Tensor w = weight.contiguous();
  const float* src = w.const_data_ptr<float>();
  auto block_kept = [&](int64_t br, int64_t bc) {
    for (int64_t r = br * R; r < std::min(br * R + R, M); ++r)
      for (int64_t c = bc * C; c < std::min(bc * C + C, K); ++c)
        if (nonzero(src[r * K + c])) return true;
    return false;
  };
  at::Tensor row_ptr = at::empty({rows + 1}, weight.options().dtype(at::kLong));
  int64_t* rp = row_ptr.mutable_data_ptr<int64_t>();
  rp[0] = 0;
  const bool csr = R == 1 && C == 1;
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, R * K));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t br = begin; br < end; ++br) {
      int64_t n = 0;
      if (csr) {
        for (int64_t c = 0; c < K; ++c) n += nonzero(src[br * K + c]);
      } else {
        for (int64_t bc = 0; bc < kb; ++bc) n += block_kept(br, bc);
      }
      rp[br + 1] = n;
    }
  });
  for (int64_t br = 0; br < rows; ++br) rp[br + 1] += rp[br];
  const int64_t nblocks = rp[rows];
  at::Tensor values = at::zeros({nblocks, R, C}, weight.options());
  at::Tensor col_idx = at::empty({nblocks}, weight.options().dtype(at::kShort));
  float* vals = values.mutable_data_ptr<float>();
  auto* cols = reinterpret_cast<uint16_t*>(col_idx.mutable_data_ptr<int16_t>());
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t br = begin; br < end; ++br) {
      int64_t b = rp[br];
      if (csr) {
        for (int64_t c = 0; c < K; ++c) {
          const float v = src[br * K + c];
          if (!nonzero(v)) continue;
          vals[b] = v;
          cols[b++] = static_cast<uint16_t>(c);
        }
        continue;
      }
      for (int64_t bc = 0; bc < kb; ++bc) {
        if (!block_kept(br, bc)) continue;
        cols[b] = static_cast<uint16_t>(bc);
        for (int64_t r = br * R; r < std::min(br * R + R, M); ++r)
          for (int64_t c = bc * C; c < std::min(bc * C + C, K); ++c)
            vals[(b * R + (r - br * R)) * C + (c - bc * C)] = src[r * K + c];
        ++b;
      }
    }
  });
  return {values, col_idx, row_ptr};
}

std::tuple<at::Tensor, at::Tensor> nm24_pack_cpu(const at::Tensor& weight) {
  const char* op = "sparse_nm24_pack";
  check_weight(op, weight);
  const int64_t M = weight.size(0), K = weight.size(1), G = (K + 3) / 4;
  const at::Tensor w = weight.contiguous();
  const float* src = w.const_data_ptr<float>();
  at::Tensor values = at::empty({M, G, 2}, weight.options());
  at::Tensor indices = at::empty({M, G}, weight.options().dtype(at::kByte));
  float* vals = values.mutable_data_ptr<float>();
  uint8_t* pos = indices.mutable_data_ptr<uint8_t>();
  // The first offending group (row-major), reported after the parallel pass.
  std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, K));
  at::parallel_for(0, M, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t g = 0; g < G; ++g) {
        int slot = 0;
        unsigned p[2] = {0, 0};
        float v[2] = {0.0f, 0.0f};
        for (int64_t c = 4 * g; c < std::min(4 * g + 4, K); ++c) {
          if (!nonzero(src[r * K + c])) continue;
          if (slot == 2) {
            int64_t seen = first_bad.load();
            const int64_t mine = r * G + g;
            while (mine < seen && !first_bad.compare_exchange_weak(seen, mine)) {
            }
            break;
          }
          p[slot] = static_cast<unsigned>(c - 4 * g);
          v[slot++] = src[r * K + c];
        }
        if (slot == 1) p[1] = p[0];  // the unused slot repeats a valid position, value 0
        vals[(r * G + g) * 2] = v[0];
        vals[(r * G + g) * 2 + 1] = v[1];
        pos[r * G + g] = static_cast<uint8_t>(p[0] | p[1] << 2);
      }
    }
  });
  const int64_t bad = first_bad.load();
  if (bad != std::numeric_limits<int64_t>::max()) {
    const int64_t r = bad / G, g = bad % G;
    int64_t count = 0;
    for (int64_t c = 4 * g; c < std::min(4 * g + 4, K); ++c) count += nonzero(src[r * K + c]);
    TORCH_CHECK(false, "compressor.", op, ": weight is not 2:4 sparse: row ", r, ", inputs ",
                4 * g, "..", std::min(4 * g + 4, K) - 1, " hold ", count,
                " non-zeros (at most 2 of every 4 consecutive inputs may be non-zero)");
  }
  return {values, indices};
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("sparse_bsr_pack", &bsr_pack_cpu);
  m.impl("sparse_nm24_pack", &nm24_pack_cpu);
}

}  // namespace compressor::cpu::sparse
