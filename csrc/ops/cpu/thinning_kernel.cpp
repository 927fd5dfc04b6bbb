// CPU kernel of compressor::gather_channels (schema: csrc/ops/thinning.cpp):
// out[o, i, ...] = w[out_idx[o], in_idx[i], ...], the copy that physically
// removes pruned channels from a weight along both axes at once.
//
// Two chained index_select calls write an intermediate [len(out_idx), I, ...]
// tensor and read it again; this kernel reads each kept slice of w once and
// writes it once. Elements are copied as raw bits (by element size), so every
// dtype of one size shares one code path. Work is split over output rows.
//
// Paths, fastest first: on an AVX-512 CPU (cpu/isa.h), 4- and 8-byte elements,
// packed rows and increasing kept columns (as thinning always has), each row
// is packed with masked loads + vpcompress + masked stores; else runs of
// consecutive kept columns are copied with one memcpy each when the runs are
// long; else element by element (any strides).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cpu/isa.h"
#include "ops/checks/masks.h"

namespace compressor::cpu {
namespace {

constexpr const char* kOp = "gather_channels";

bool is_gather_dtype(at::ScalarType st) { return is_mask_float(st) || st == at::kBool; }

void check_weight(const at::Tensor& w) {
  check_dense_cpu(kOp, "w", w);
  TORCH_CHECK(is_gather_dtype(w.scalar_type()),
              "compressor.gather_channels: w must be torch.float32, torch.float16, torch.bfloat16, "
              "torch.float64 or torch.bool, got ", dtype_name(w.scalar_type()));
  TORCH_CHECK(w.dim() >= 1, "compressor.gather_channels: w must have at least one dimension, got a 0-dim tensor");
}

// The indices as a contiguous int64 vector view, every value checked against `size`.
at::Tensor checked_index(const std::string& arg, const at::Tensor& idx, const at::Tensor& w, int64_t dim) {
  TORCH_CHECK(idx.defined(), "compressor.gather_channels: ", arg, " is an undefined tensor");
  TORCH_CHECK(idx.layout() == at::kStrided, "compressor.gather_channels: ", arg,
              " must be a dense (strided) tensor, got layout ", idx.layout());
  TORCH_CHECK(idx.device() == w.device(), "compressor.gather_channels: ", arg,
              " must be on w's device (", w.device(), "), got ", idx.device());
  TORCH_CHECK(idx.scalar_type() == at::kLong, "compressor.gather_channels: ", arg,
              " must be torch.int64, got ", dtype_name(idx.scalar_type()));
  TORCH_CHECK(idx.dim() == 1, "compressor.gather_channels: ", arg,
              " must be 1-D (a list of indices), got shape ", idx.sizes());
  const at::Tensor c = idx.contiguous();
  const int64_t size = w.size(dim);
  const int64_t* p = c.const_data_ptr<int64_t>();
  for (int64_t k = 0; k < c.numel(); ++k) {
    TORCH_CHECK(p[k] >= 0 && p[k] < size, "compressor.gather_channels: ", arg, "[", k, "] = ", p[k],
                " is out of range for w.size(", dim, ") = ", size, " (indices must be in [0, ", size, "))");
  }
  return c;
}

// Element offsets of the trailing dims (2..) of w, in row-major order (the
// innermost dim varies fastest), for a w whose trailing dims are not packed.
std::vector<int64_t> inner_offsets(const at::Tensor& w) {
  int64_t n = 1;
  for (int64_t d = 2; d < w.dim(); ++d) n *= w.size(d);
  std::vector<int64_t> offsets(n);
  for (int64_t r = 0; r < n; ++r) {
    int64_t rest = r, off = 0;
    for (int64_t d = w.dim() - 1; d >= 2; --d) {
      off += (rest % w.size(d)) * w.stride(d);
      rest /= w.size(d);
    }
    offsets[r] = off;
  }
  return offsets;
}

// Whether the trailing dims (2..) are one packed run of stride 1.
bool inner_packed(const at::Tensor& w) {
  int64_t expected = 1;
  for (int64_t d = w.dim() - 1; d >= 2; --d) {
    if (w.size(d) != 1 && w.stride(d) != expected) return false;
    expected *= w.size(d);
  }
  return true;
}

// A run of consecutive input indices ii[k] .. ii[k] + len - 1, copied as one
// block when each input slice is packed right after the previous one.
constexpr int64_t kMinRunElements = 16;  // mean run length (elements) worth a memcpy

struct Run {
  int64_t src;  // first input index
  int64_t dst;  // its position in the output row (in slices)
  int64_t len;  // slices
};

// Kept indices are usually sorted, so consecutive ones come in runs.
std::vector<Run> runs_of(const int64_t* ii, int64_t n_in) {
  std::vector<Run> runs;
  for (int64_t k = 0; k < n_in; ++k) {
    if (!runs.empty() && runs.back().src + runs.back().len == ii[k]) {
      ++runs.back().len;
    } else {
      runs.push_back({ii[k], k, 1});
    }
  }
  return runs;
}

// One output row of a w with unit-size slices (Linear, 1x1 conv): an element gather.
template <typename U>
void gather_row(const U* s, U* d, const int64_t* ii, int64_t n_in, int64_t s1) {
  for (int64_t i = 0; i < n_in; ++i) d[i] = s[ii[i] * s1];
}

#if defined(__x86_64__) && defined(__GNUC__)
#define COMPRESSOR_HAS_COMPRESS 1
// One bit per lane of a 64-byte chunk: 16 lanes of 4 bytes or 8 lanes of 8.
template <typename U>
using LaneMask = std::conditional_t<sizeof(U) == 4, uint16_t, uint8_t>;

// One 64-byte chunk of a source row: a masked load (only kept elements are
// read), vpcompress (the kept ones packed together) and a masked store of
// them; returns the number of elements written.
template <typename U>
__attribute__((target("avx512f"))) int pack_chunk(const U* s, U* d, LaneMask<U> m) {
  const int k = __builtin_popcount(m);
  const auto written = static_cast<LaneMask<U>>((1u << k) - 1);
  if constexpr (sizeof(U) == 4) {
    _mm512_mask_storeu_epi32(d, written, _mm512_maskz_compress_epi32(m, _mm512_maskz_loadu_epi32(m, s)));
  } else {
    _mm512_mask_storeu_epi64(d, written, _mm512_maskz_compress_epi64(m, _mm512_maskz_loadu_epi64(m, s)));
  }
  return k;
}

// Packed rows with increasing kept columns, chunk by chunk. `masks` holds one
// bit per element of a source row, a chunk per entry; `row` is the output row
// length.
template <typename U>
__attribute__((target("avx512f"))) void compress_rows(const U* src, U* dst, const int64_t* oi, int64_t b,
                                                      int64_t e, int64_t s0, int64_t row,
                                                      const std::vector<LaneMask<U>>& masks) {
  constexpr int64_t kLanes = 64 / sizeof(U);
  for (int64_t o = b; o < e; ++o) {
    const U* s = src + oi[o] * s0;
    U* d = dst + o * row;
    for (size_t c = 0; c < masks.size(); ++c) {
      if (masks[c] != 0) d += pack_chunk<U>(s + kLanes * static_cast<int64_t>(c), d, masks[c]);
    }
  }
}

#endif

// Bit masks of the kept elements of a packed row (`inner` elements per kept
// column), `Lanes` elements per entry, or empty when the kept columns are not
// strictly increasing (then the output order is not the order of the bits and
// the compress path does not apply).
template <typename Mask, int Lanes>
std::vector<Mask> row_masks(const int64_t* ii, int64_t n_in, int64_t size_in, int64_t inner) {
  for (int64_t i = 1; i < n_in; ++i)
    if (ii[i] <= ii[i - 1]) return {};
  std::vector<Mask> masks((size_in * inner + Lanes - 1) / Lanes, 0);
  for (int64_t i = 0; i < n_in; ++i)
    for (int64_t x = ii[i] * inner; x < (ii[i] + 1) * inner; ++x)
      masks[x / Lanes] |= static_cast<Mask>(1u << (x % Lanes));
  return masks;
}

// Rows gathered by AVX-512 compress, if this w, these columns and this CPU allow.
template <typename U>
bool try_compress(const U* src, U* dst, const int64_t* oi, int64_t n_out, const int64_t* ii, int64_t n_in,
                  int64_t size_in, int64_t s0, int64_t s1, int64_t inner, bool packed, int64_t grain) {
#ifdef COMPRESSOR_HAS_COMPRESS
  constexpr size_t kSize = sizeof(U);
  if constexpr (kSize == 4 || kSize == 8) {
    if (!packed || s1 != inner || n_in == 0 || hardware_isa() != Isa::kAvx512) return false;
    const auto masks = row_masks<LaneMask<U>, 64 / kSize>(ii, n_in, size_in, inner);
    if (masks.empty()) return false;
    at::parallel_for(0, n_out, grain, [&](int64_t b, int64_t e) {
      compress_rows<U>(src, dst, oi, b, e, s0, n_in * inner, masks);
    });
    return true;
  }
#endif
  return false;
}

template <typename U>
void gather(const U* src, U* dst, const int64_t* oi, int64_t n_out, const int64_t* ii, int64_t n_in,
            int64_t size_in, int64_t s0, int64_t s1, int64_t inner, bool packed, const std::vector<int64_t>& offsets) {
  const int64_t row = n_in * inner;  // output elements per output row
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(1, row));
  if (try_compress(src, dst, oi, n_out, ii, n_in, size_in, s0, s1, inner, packed, grain)) return;
  // Slices of one row are back to back in w: copy whole runs with memcpy, when
  // the runs are long enough for a memcpy call to beat an element loop.
  std::vector<Run> runs = packed && s1 == inner ? runs_of(ii, n_in) : std::vector<Run>{};
  const bool rows_packed =
      !runs.empty() && row >= kMinRunElements * static_cast<int64_t>(runs.size());
  at::parallel_for(0, n_out, grain, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const U* s = src + oi[o] * s0;
      U* d = dst + o * row;
      if (rows_packed) {
        for (const Run& r : runs)
          std::memcpy(d + r.dst * inner, s + r.src * inner, static_cast<size_t>(r.len * inner) * sizeof(U));
      } else if (inner == 1) {
        gather_row(s, d, ii, n_in, s1);
      } else if (packed) {
        for (int64_t i = 0; i < n_in; ++i) {
          const U* si = s + ii[i] * s1;
          U* di = d + i * inner;
          for (int64_t r = 0; r < inner; ++r) di[r] = si[r];
        }
      } else {
        const int64_t* off = offsets.data();
        for (int64_t i = 0; i < n_in; ++i) {
          const U* si = s + ii[i] * s1;
          U* di = d + i * inner;
          for (int64_t r = 0; r < inner; ++r) di[r] = si[off[r]];
        }
      }
    }
  });
}

at::Tensor gather_channels_cpu(const at::Tensor& w, const std::optional<at::Tensor>& out_idx,
                               const std::optional<at::Tensor>& in_idx) {
  check_weight(w);
  TORCH_CHECK(w.dim() >= 2 || !(in_idx.has_value() && in_idx->defined()),
              "compressor.gather_channels: in_idx must be None for a 1-D w (it has no dim 1), got a "
              "tensor of shape ", (in_idx.has_value() && in_idx->defined() ? in_idx->sizes() : at::IntArrayRef{}));
  const bool has_out = out_idx.has_value() && out_idx->defined();
  const bool has_in = in_idx.has_value() && in_idx->defined();
  const at::Tensor oi_t = has_out ? checked_index("out_idx", *out_idx, w, 0) : at::Tensor();
  const at::Tensor ii_t = has_in ? checked_index("in_idx", *in_idx, w, 1) : at::Tensor();

  const int64_t n_out = has_out ? oi_t.numel() : w.size(0);
  const int64_t size_in = w.dim() >= 2 ? w.size(1) : 1;
  const int64_t n_in = has_in ? ii_t.numel() : size_in;
  std::vector<int64_t> out_sizes{n_out};
  if (w.dim() >= 2) out_sizes.push_back(n_in);
  for (int64_t d = 2; d < w.dim(); ++d) out_sizes.push_back(w.size(d));
  at::Tensor out = at::empty(out_sizes, w.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;

  // Absent index lists are the identity.
  std::vector<int64_t> identity_out, identity_in;
  const int64_t* oi = has_out ? oi_t.const_data_ptr<int64_t>() : nullptr;
  const int64_t* ii = has_in ? ii_t.const_data_ptr<int64_t>() : nullptr;
  if (!has_out) {
    identity_out.resize(n_out);
    for (int64_t k = 0; k < n_out; ++k) identity_out[k] = k;
    oi = identity_out.data();
  }
  if (!has_in) {
    identity_in.resize(n_in);
    for (int64_t k = 0; k < n_in; ++k) identity_in[k] = k;
    ii = identity_in.data();
  }
  int64_t inner = 1;
  for (int64_t d = 2; d < w.dim(); ++d) inner *= w.size(d);
  const int64_t s0 = w.stride(0);
  const int64_t s1 = w.dim() >= 2 ? w.stride(1) : 0;
  const bool packed = inner_packed(w);
  const std::vector<int64_t> offsets = packed ? std::vector<int64_t>{} : inner_offsets(w);

  auto run = [&](auto* type_tag) {
    using U = std::remove_pointer_t<decltype(type_tag)>;
    gather<U>(static_cast<const U*>(w.const_data_ptr()), static_cast<U*>(out.data_ptr()), oi, n_out, ii, n_in,
              size_in, s0, s1, inner, packed, offsets);
  };
  switch (w.element_size()) {
    case 1:
      run(static_cast<uint8_t*>(nullptr));
      break;
    case 2:
      run(static_cast<uint16_t*>(nullptr));
      break;
    case 4:
      run(static_cast<uint32_t*>(nullptr));
      break;
    case 8:
      run(static_cast<uint64_t*>(nullptr));
      break;
    default:
      TORCH_INTERNAL_ASSERT(false, "compressor.", kOp, ": unchecked element size ", w.element_size());
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("gather_channels", &gather_channels_cpu);
}

}  // namespace compressor::cpu
