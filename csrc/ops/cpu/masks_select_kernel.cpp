// CPU kernels of compressor::magnitude_threshold, magnitude_mask and
// global_magnitude_masks (schemas and semantics: csrc/ops/masks.cpp).
//
// All three select the k-th smallest |x| with a radix select on the bit
// pattern. Clearing the sign bit of an IEEE float gives an unsigned key that is
// monotone in |x|, with NaN above +inf (the order of torch.kthvalue). The keys
// are read in 16-bit digits, most significant first: the first pass builds a
// histogram of the top digit (15 bits once the sign is gone), picks the bucket
// that holds the k-th key, and each further pass histograms the next digit of
// only the keys in that bucket. fp16/bf16 take one pass, fp32 two, fp64 four;
// every pass is one read of the data.
//
// The tensors are one virtual array (a list in list order), cut into a few
// chunks that run in parallel, each with its own histogram. The last pass's
// per-chunk histograms also give each chunk's count of keys equal to the
// threshold, so the mask pass can prune exactly k entries, ties in flat order,
// without a counting pass of its own.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cpu/isa.h"
#include "ops/checks/masks.h"

namespace compressor::cpu {
namespace {

constexpr int kDigitBits = 16;
constexpr int64_t kBins = int64_t{1} << kDigitBits;  // one histogram
constexpr int64_t kTopBins = kBins / 2;              // the top digit has no sign bit

template <typename U>
constexpr int kKeyBits = 8 * sizeof(U);
template <typename U>
constexpr U kAbsMask = static_cast<U>(~U{0}) >> 1;

// How many entries to prune: round-half-even, as Python's round() and
// torch.nn.utils.prune do (the default rounding mode is to nearest even).
int64_t prune_count(double sparsity, int64_t numel) {
  return static_cast<int64_t>(std::nearbyint(sparsity * static_cast<double>(numel)));
}

// Runs f(U{}) with U the unsigned integer as wide as the floating dtype.
template <typename F>
void with_key_type(at::ScalarType st, F&& f) {
  switch (st) {
    case at::kHalf:
    case at::kBFloat16:
      return f(uint16_t{});
    case at::kFloat:
      return f(uint32_t{});
    case at::kDouble:
      return f(uint64_t{});
    default:
      TORCH_INTERNAL_ASSERT(false, "compressor: unchecked dtype ", st);
  }
}

// Contiguous tensors seen as one array in list order, cut into `chunks`
// near-equal ranges. A chunk is one parallel task with one histogram; at most
// 2^31 entries each, so uint32 counts cannot overflow.
template <typename U>
struct Pieces {
  std::vector<const U*> data;
  std::vector<int64_t> start;  // start[s]: offset of tensor s; start.back(): total
  int64_t chunks = 1;

  explicit Pieces(const std::vector<at::Tensor>& contiguous) {
    start.push_back(0);
    for (const auto& t : contiguous) {
      data.push_back(static_cast<const U*>(t.const_data_ptr()));
      start.push_back(start.back() + t.numel());
    }
    constexpr int64_t kMinChunk = int64_t{1} << 18;  // below, histogram set-up dominates
    constexpr int64_t kMaxChunk = int64_t{1} << 31;
    chunks = std::min<int64_t>(at::get_num_threads(), total() / kMinChunk);
    chunks = std::max<int64_t>({chunks, 1, (total() + kMaxChunk - 1) / kMaxChunk});
  }

  int64_t total() const { return start.back(); }

  int64_t chunk_begin(int64_t c) const {
    return c * (total() / chunks) + std::min(c, total() % chunks);
  }

  // f(tensor index, offset in that tensor, length) for each part of chunk c, in order.
  template <typename F>
  void for_each_piece(int64_t c, F&& f) const {
    int64_t lo = chunk_begin(c);
    const int64_t hi = chunk_begin(c + 1);
    if (lo >= hi) return;
    auto s = std::upper_bound(start.begin(), start.end(), lo) - start.begin() - 1;
    for (; lo < hi; ++s) {
      const int64_t end = std::min(hi, start[s + 1]);
      if (end > lo) f(s, lo - start[s], end - lo);
      lo = end;
    }
  }
};

// Each pass counts into two tables that alternate between neighbouring
// elements, h[0, bins) and h[bins, 2 * bins), which halves the store-to-load
// chains when neighbours share a digit (ties, zeros); the caller folds them.

// Pass 1: h[top digit of key] += 1 (bins = kTopBins).
template <typename U>
COMPRESSOR_ISA_CLONES void histogram_top(const U* x, int64_t n, uint32_t* h) {
  constexpr int kShift = kKeyBits<U> - kDigitBits;
  uint32_t* h2 = h + kTopBins;
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    ++h[(x[i] & kAbsMask<U>) >> kShift];
    ++h2[(x[i + 1] & kAbsMask<U>) >> kShift];
  }
  if (i < n) ++h[(x[i] & kAbsMask<U>) >> kShift];
}

// Later passes (bins = kBins): for keys whose bits above Shift + 16 equal
// `prefix`, h[the 16 bits from Shift] += 1. Blocks are tested with a
// vectorisable reduction first, since most hold no key of the bucket.
template <typename U, int Shift>
COMPRESSOR_ISA_CLONES void histogram_within(const U* x, int64_t n, U prefix, uint32_t* h) {
  constexpr int kHigh = Shift + kDigitBits;
  const auto in_bucket = [prefix](U v) {
    return static_cast<U>((v & kAbsMask<U>) >> kHigh) == prefix;
  };
  const auto digit = [](U v) { return (v >> Shift) & (kBins - 1); };
  uint32_t* h2 = h + kBins;
  constexpr int64_t kBlock = 16;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    U miss = ~U{0};
    for (int64_t j = 0; j < kBlock; ++j) {
      miss = std::min<U>(miss, static_cast<U>(((x[i + j] & kAbsMask<U>) >> kHigh) ^ prefix));
    }
    if (miss != 0) continue;
    for (int64_t j = 0; j < kBlock; j += 2) {
      if (in_bucket(x[i + j])) ++h[digit(x[i + j])];
      if (in_bucket(x[i + j + 1])) ++h2[digit(x[i + j + 1])];
    }
  }
  for (; i < n; ++i) {
    if (in_bucket(x[i])) ++h[digit(x[i])];
  }
}

// One pass of the radix select over x[0, n) into h (2 * kBins entries).
template <typename U>
void histogram_pass(int pass, const U* x, int64_t n, U prefix, uint32_t* h) {
  constexpr int kBits = kKeyBits<U>;
  switch (pass) {
    case 0:
      return histogram_top(x, n, h);
    case 1:
      if constexpr (kBits >= 32) return histogram_within<U, kBits - 32>(x, n, prefix, h);
      break;
    case 2:
      if constexpr (kBits >= 48) return histogram_within<U, kBits - 48>(x, n, prefix, h);
      break;
    case 3:
      if constexpr (kBits >= 64) return histogram_within<U, kBits - 64>(x, n, prefix, h);
      break;
  }
  TORCH_INTERNAL_ASSERT(false, "compressor: no radix pass ", pass, " for ", kBits, "-bit keys");
}

// Keep flags of x[0, n): keys above t are kept, keys below pruned; of the keys
// equal to t the first `prune_ties` (counted down as they are met) are pruned
// and the rest kept.
template <typename U>
COMPRESSOR_ISA_CLONES void write_keep(const U* x, int64_t n, U t, int64_t& prune_ties,
                                      bool* out) {
  constexpr int64_t kBlock = 64;
  int64_t i = 0;
  while (prune_ties > 0 && i < n) {
    const int64_t len = std::min(kBlock, n - i);
    int64_t ties = 0;
    for (int64_t j = 0; j < len; ++j) {
      const U key = x[i + j] & kAbsMask<U>;
      out[i + j] = key > t;
      ties += key == t;
    }
    if (ties > prune_ties) {  // the last tie to prune is in this block
      int64_t skip = prune_ties;
      for (int64_t j = 0; j < len; ++j) {
        if ((x[i + j] & kAbsMask<U>) != t) continue;
        if (skip > 0) {
          --skip;
        } else {
          out[i + j] = true;
        }
      }
      prune_ties = 0;
    } else {
      prune_ties -= ties;
    }
    i += len;
  }
  for (; i < n; ++i) out[i] = (x[i] & kAbsMask<U>) >= t;
}

template <typename U>
struct Selection {
  U key;                            // the k-th smallest key
  int64_t prune_ties;               // keys equal to `key` among the k pruned
  std::vector<int64_t> chunk_ties;  // keys equal to `key`, per chunk
};

// The k-th smallest key of `p`, 1 <= k <= p.total().
template <typename U>
Selection<U> radix_select(const Pieces<U>& p, int64_t k) {
  constexpr int kPasses = kKeyBits<U> / kDigitBits;
  const int64_t chunks = p.chunks;
  constexpr int64_t kStride = 2 * kBins;  // one chunk's tables
  std::unique_ptr<uint32_t[]> hist(new uint32_t[chunks * kStride]);
  std::vector<int64_t> merged(kBins);
  uint64_t prefix = 0;  // the digits chosen so far
  int64_t rank = k;     // rank of the wanted key among the keys with that prefix
  int64_t digit = 0;
  for (int pass = 0; pass < kPasses; ++pass) {
    const int64_t bins = pass == 0 ? kTopBins : kBins;
    at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        uint32_t* h = hist.get() + c * kStride;
        std::fill_n(h, 2 * bins, 0u);
        p.for_each_piece(c, [&](int64_t s, int64_t offset, int64_t n) {
          histogram_pass(pass, p.data[s] + offset, n, static_cast<U>(prefix), h);
        });
        for (int64_t d = 0; d < bins; ++d) h[d] += h[bins + d];
      }
    });
    std::fill(merged.begin(), merged.end(), 0);
    for (int64_t c = 0; c < chunks; ++c) {
      const uint32_t* h = hist.get() + c * kStride;
      for (int64_t d = 0; d < bins; ++d) merged[d] += h[d];
    }
    for (digit = 0; rank > merged[digit]; ++digit) {
      rank -= merged[digit];
      TORCH_INTERNAL_ASSERT(digit + 1 < bins, "compressor: radix select lost the k-th key");
    }
    prefix = (prefix << kDigitBits) | static_cast<uint64_t>(digit);
  }
  Selection<U> sel{static_cast<U>(prefix), rank, std::vector<int64_t>(chunks)};
  for (int64_t c = 0; c < chunks; ++c) sel.chunk_ties[c] = hist[c * kStride + digit];
  return sel;
}

std::vector<at::Tensor> contiguous_all(at::TensorList ws) {
  std::vector<at::Tensor> out;
  out.reserve(ws.size());
  for (const auto& w : ws) out.push_back(w.contiguous());
  return out;
}

// Masks that prune exactly round(sparsity * total numel) entries of `ws` by |w|.
std::vector<at::Tensor> masks_impl(at::TensorList ws, double sparsity) {
  std::vector<at::Tensor> masks;
  masks.reserve(ws.size());
  int64_t total = 0;
  for (const auto& w : ws) {
    masks.push_back(at::empty(w.sizes(), w.options().dtype(at::kBool)));
    total += w.numel();
  }
  const int64_t k = prune_count(sparsity, total);
  if (k == 0 || k == total) {
    for (auto& m : masks) m.fill_(k == 0);
    return masks;
  }
  const auto inputs = contiguous_all(ws);
  with_key_type(ws[0].scalar_type(), [&](auto tag) {
    using U = decltype(tag);
    const Pieces<U> p(inputs);
    const Selection<U> sel = radix_select(p, k);
    // Hand the ties to prune to the chunks in order.
    std::vector<int64_t> chunk_prune(p.chunks);
    int64_t left = sel.prune_ties;
    for (int64_t c = 0; c < p.chunks; ++c) {
      chunk_prune[c] = std::min(left, sel.chunk_ties[c]);
      left -= chunk_prune[c];
    }
    std::vector<bool*> out;
    for (auto& m : masks) out.push_back(m.data_ptr<bool>());
    at::parallel_for(0, p.chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        int64_t prune_ties = chunk_prune[c];
        p.for_each_piece(c, [&](int64_t s, int64_t offset, int64_t n) {
          write_keep(p.data[s] + offset, n, sel.key, prune_ties, out[s] + offset);
        });
      }
    });
  });
  return masks;
}

at::Tensor magnitude_threshold_cpu(const at::Tensor& w, double sparsity) {
  check_float_cpu("magnitude_threshold", "w", w);
  check_sparsity("magnitude_threshold", sparsity);
  const int64_t k = prune_count(sparsity, w.numel());
  if (k == 0) return at::full({}, -std::numeric_limits<double>::infinity(), w.options());
  const auto inputs = contiguous_all({w});
  at::Tensor out = at::empty({}, w.options());
  with_key_type(w.scalar_type(), [&](auto tag) {
    using U = decltype(tag);
    const U key = radix_select(Pieces<U>(inputs), k).key;
    std::memcpy(out.data_ptr(), &key, sizeof(U));
  });
  return out;
}

at::Tensor magnitude_mask_cpu(const at::Tensor& w, double sparsity) {
  check_float_cpu("magnitude_mask", "w", w);
  check_sparsity("magnitude_mask", sparsity);
  return masks_impl({w}, sparsity)[0];
}

std::vector<at::Tensor> global_magnitude_masks_cpu(at::TensorList ws, double sparsity) {
  for (size_t i = 0; i < ws.size(); ++i) {
    check_float_cpu("global_magnitude_masks", "ws[" + std::to_string(i) + "]", ws[i]);
    TORCH_CHECK(ws[i].scalar_type() == ws[0].scalar_type(),
                "compressor.global_magnitude_masks: all tensors in ws must share one dtype, ",
                "ws[0] is ", dtype_name(ws[0].scalar_type()), " but ws[", i, "] is ",
                dtype_name(ws[i].scalar_type()));
  }
  check_sparsity("global_magnitude_masks", sparsity);
  if (ws.empty()) return {};
  return masks_impl(ws, sparsity);
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("magnitude_threshold", &magnitude_threshold_cpu);
  m.impl("magnitude_mask", &magnitude_mask_cpu);
  m.impl("global_magnitude_masks", &global_magnitude_masks_cpu);
}

}  // namespace compressor::cpu
