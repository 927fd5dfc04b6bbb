// CPU kernels of the structured-pruning criteria: compressor::structure_norms,
// fpgm_scores, nm_mask and block_mask (schemas and semantics:
// csrc/ops/structured.cpp).
//
// Sums run in float64 with a fixed number of partial sums combined in a fixed
// order, and every output value is computed by one task, so results do not
// depend on the thread count (fpgm_scores up to the BLAS GEMM it calls).
// The mask ops compare magnitudes as unsigned keys (the bits with the sign
// cleared), which orders |x| with NaN above +inf and -0 equal to +0, as the
// magnitude kernels do, without converting to float.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <c10/util/bit_cast.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "cpu/isa.h"
#include "ops/checks/masks.h"

namespace compressor::cpu {
namespace {

// ---- shared helpers ------------------------------------------------------------------------

// The scores' dtype: float64 for a float64 w, float32 otherwise.
at::ScalarType score_dtype(const at::Tensor& w) {
  return w.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

void check_has_dim(const char* op, const at::Tensor& w) {
  TORCH_CHECK(w.dim() >= 1, "compressor.", op,
              ": w must have at least one dimension, got a 0-dim tensor");
}

int64_t size_product(at::IntArrayRef sizes, int64_t begin, int64_t end) {
  int64_t p = 1;
  for (int64_t d = begin; d < end; ++d) p *= sizes[d];
  return p;
}

// w seen as [rows, cols]: rows = size(0), cols = the other sizes; a 1-D w is one row.
std::pair<int64_t, int64_t> matrix_view(const at::Tensor& w) {
  if (w.dim() == 1) return {1, w.numel()};
  return {w.size(0), size_product(w.sizes(), 1, w.dim())};
}

// Round-half-even, like Python's round() and the magnitude kernels.
int64_t prune_count(double sparsity, int64_t total) {
  return static_cast<int64_t>(std::nearbyint(sparsity * static_cast<double>(total)));
}

template <typename T>
inline double widen(T v) {
  if constexpr (std::is_same_v<T, double>) {
    return v;
  } else {
    return static_cast<double>(static_cast<float>(v));
  }
}

template <int P>
inline double power(double v) {
  static_assert(P == 1 || P == 2);
  if constexpr (P == 1) {
    return std::abs(v);
  } else {
    return v * v;
  }
}

// Runs f(std::integral_constant<int, P>{}) for p = 1 or 2.
template <typename F>
void with_power(double p, F&& f) {
  if (p == 1.0) return f(std::integral_constant<int, 1>{});
  return f(std::integral_constant<int, 2>{});
}

constexpr int64_t kLanes = 8;

inline double combine(const double* lane) {
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Σ |x|^P over x[0, n) in kLanes partial sums.
template <int P, typename T>
COMPRESSOR_ISA_CLONES double power_sum(const T* x, int64_t n) {
  double lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) lane[j] += power<P>(widen(x[i + j]));
  }
  for (; i < n; ++i) lane[i % kLanes] += power<P>(widen(x[i]));
  return combine(lane);
}

// acc[i] += |x[i]|^P for i in [0, n).
template <int P, typename T>
COMPRESSOR_ISA_CLONES void add_powers(const T* x, int64_t n, double* acc) {
  for (int64_t i = 0; i < n; ++i) acc[i] += power<P>(widen(x[i]));
}

// ---- structure_norms -----------------------------------------------------------------------

// x contiguous, seen as [outer, channels, inner]; out[c] = Σ over x[:, c, :] of |x|^P.
template <int P, typename T>
void slice_power_sums(const T* x, int64_t outer, int64_t channels, int64_t inner, double* out) {
  const int64_t per_channel = std::max<int64_t>(1, outer * inner);
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / per_channel);
  // A task owns channels [c0, c1) and walks every outer index: it reads one
  // contiguous run x[o, c0:c1, :] per step, and each channel is summed in one order.
  at::parallel_for(0, channels, grain, [&](int64_t c0, int64_t c1) {
    double* acc = out + c0;
    std::fill(acc, out + c1, 0.0);
    for (int64_t o = 0; o < outer; ++o) {
      const T* run = x + (o * channels + c0) * inner;
      if (inner == 1) {
        add_powers<P>(run, c1 - c0, acc);
      } else {
        for (int64_t c = 0; c < c1 - c0; ++c) acc[c] += power_sum<P>(run + c * inner, inner);
      }
    }
  });
}

at::Tensor structure_norms_cpu(const at::Tensor& w, int64_t dim, double p) {
  constexpr const char* op = "structure_norms";
  check_float_cpu(op, "w", w);
  check_has_dim(op, w);
  const int64_t ndim = w.dim();
  TORCH_CHECK(dim >= -ndim && dim < ndim, "compressor.structure_norms: dim must be in [", -ndim,
              ", ", ndim - 1, "] for w of shape ", w.sizes(), ", got ", dim);
  TORCH_CHECK(p == 1.0 || p == 2.0, "compressor.structure_norms: p must be 1 or 2, got ", p);
  if (dim < 0) dim += ndim;
  const int64_t channels = w.size(dim);
  const int64_t outer = size_product(w.sizes(), 0, dim);
  const int64_t inner = size_product(w.sizes(), dim + 1, ndim);
  at::Tensor sums = at::empty({channels}, w.options().dtype(at::kDouble));
  if (channels == 0) return sums.to(score_dtype(w));
  const at::Tensor x = w.contiguous();
  double* out = sums.data_ptr<double>();
  const auto st = x.scalar_type();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, st, "structure_norms", [&] {
    with_power(p, [&](auto pc) {
      slice_power_sums<decltype(pc)::value>(x.const_data_ptr<scalar_t>(), outer, channels, inner,
                                            out);
    });
  });
  if (p == 2.0) sums.sqrt_();
  return sums.to(score_dtype(w));
}

// ---- fpgm_scores ---------------------------------------------------------------------------

// Row r of `d` (the Gram rows g[r, j] = f_{i0+r} . f_j) becomes the squared distances
// max(0, sq[i0+r] + sq[j] - 2 g[r, j]), exactly 0 at j == i0 + r. NaN propagates
// (std::max keeps its first argument).
COMPRESSOR_ISA_CLONES void squared_distances(double* d, const double* sq, int64_t i0,
                                             int64_t r0, int64_t r1, int64_t n) {
  for (int64_t r = r0; r < r1; ++r) {
    double* row = d + r * n;
    const double sq_i = sq[i0 + r];
    for (int64_t j = 0; j < n; ++j) row[j] = std::max(sq_i + sq[j] - 2.0 * row[j], 0.0);
    row[i0 + r] = 0.0;
  }
}

// Gram rows computed at once: 2 MB, so the three passes over them (squared distances,
// sqrt, row sums) stay in cache; at least 16 rows, to keep the GEMM efficient.
constexpr int64_t kGramEntries = int64_t{1} << 18;
constexpr int64_t kMinGramRows = 16;

at::Tensor fpgm_scores_cpu(const at::Tensor& w) {
  constexpr const char* op = "fpgm_scores";
  check_float_cpu(op, "w", w);
  check_has_dim(op, w);
  const int64_t n = w.size(0);
  const int64_t k = size_product(w.sizes(), 1, w.dim());
  if (n <= 1 || k == 0) return at::zeros({n}, w.options().dtype(score_dtype(w)));
  // ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b in float64, on filters centred on their
  // mean: distances are unchanged, and the identity no longer cancels away the
  // differences when the filters share a large common part.
  at::Tensor f = w.reshape({n, k}).to(at::kDouble);
  f = f - f.mean(0, /*keepdim=*/true);
  const at::Tensor sq = f.square().sum(1);
  const double* sqp = sq.const_data_ptr<double>();
  at::Tensor scores = at::empty({n}, w.options().dtype(at::kDouble));
  double* out = scores.data_ptr<double>();
  const at::Tensor ft = f.t();
  const int64_t block = std::clamp<int64_t>(kGramEntries / n, std::min(kMinGramRows, n), n);
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / n);
  for (int64_t i0 = 0; i0 < n; i0 += block) {
    const int64_t rows = std::min(block, n - i0);
    at::Tensor d = at::mm(f.narrow(0, i0, rows), ft).contiguous();
    double* dp = d.data_ptr<double>();
    at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
      squared_distances(dp, sqp, i0, r0, r1, n);
    });
    d.sqrt_();  // ATen's vectorized sqrt (a loop here would call sqrt for errno)
    at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) out[i0 + r] = power_sum<1>(dp + r * n, n);
    });
  }
  return scores.to(score_dtype(w));
}

// ---- nm_mask -------------------------------------------------------------------------------

// The unsigned integer as wide as T: its bits, sign cleared, order |x|.
template <typename T>
using Key = std::conditional_t<sizeof(T) == 2, uint16_t,
                               std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;

template <typename U>
constexpr U kAbsMask = static_cast<U>(~U{0}) >> 1;

// Groups of m <= kRankMax: entry j is kept when fewer than n entries rank ahead of
// it (a larger key, or an equal key at a lower index). M > 0 fixes m = M at compile
// time (2:4, 4:8, ...), so the loops over a group unroll; M = 0 reads m at run time.
constexpr int64_t kRankMax = 64;

template <int M, typename U>
COMPRESSOR_ISA_CLONES void nm_keep_by_rank(const U* x, int64_t groups, int64_t n, int64_t m,
                                           bool* out) {
  static_assert(M <= kRankMax);
  const int64_t size = M > 0 ? M : m;
  for (int64_t g = 0; g < groups; ++g) {
    U key[M > 0 ? M : kRankMax];
    for (int64_t j = 0; j < size; ++j) key[j] = x[g * size + j] & kAbsMask<U>;
    for (int64_t j = 0; j < size; ++j) {
      int64_t ahead = 0;
      for (int64_t l = 0; l < size; ++l) ahead += l < j ? key[l] >= key[j] : key[l] > key[j];
      out[g * size + j] = ahead < n;
    }
  }
}

// Larger groups: a partial selection of each group's indices.
template <typename U>
void nm_keep_by_select(const U* x, int64_t groups, int64_t n, int64_t m, bool* out) {
  std::vector<int64_t> idx(m);
  for (int64_t g = 0; g < groups; ++g) {
    const U* v = x + g * m;
    std::iota(idx.begin(), idx.end(), int64_t{0});
    std::nth_element(idx.begin(), idx.begin() + (n - 1), idx.end(), [v](int64_t a, int64_t b) {
      const U ka = v[a] & kAbsMask<U>;
      const U kb = v[b] & kAbsMask<U>;
      return ka != kb ? ka > kb : a < b;
    });
    bool* o = out + g * m;
    std::fill_n(o, m, false);
    for (int64_t j = 0; j < n; ++j) o[idx[j]] = true;
  }
}

template <typename U>
void nm_keep(const U* x, int64_t groups, int64_t n, int64_t m, bool* out) {
  switch (m) {
    case 2:
      return nm_keep_by_rank<2>(x, groups, n, m, out);
    case 4:
      return nm_keep_by_rank<4>(x, groups, n, m, out);
    case 8:
      return nm_keep_by_rank<8>(x, groups, n, m, out);
    case 16:
      return nm_keep_by_rank<16>(x, groups, n, m, out);
    default:
      if (m <= kRankMax) return nm_keep_by_rank<0>(x, groups, n, m, out);
      return nm_keep_by_select(x, groups, n, m, out);
  }
}

at::Tensor nm_mask_cpu(const at::Tensor& w, int64_t n, int64_t m) {
  constexpr const char* op = "nm_mask";
  check_float_cpu(op, "w", w);
  check_has_dim(op, w);
  TORCH_CHECK(m >= 1, "compressor.nm_mask: m must be positive, got ", m);
  TORCH_CHECK(n >= 1 && n <= m, "compressor.nm_mask: n must satisfy 0 < n <= m (m = ", m,
              "), got ", n);
  const auto [rows, cols] = matrix_view(w);
  TORCH_CHECK(cols % m == 0, "compressor.nm_mask: m = ", m, " must divide cols = ", cols,
              " of w viewed as [rows, cols] = [", rows, ", ", cols, "] (w has shape ", w.sizes(),
              ")");
  at::Tensor mask = at::empty(w.sizes(), w.options().dtype(at::kBool));
  if (n == m) return mask.fill_(true);
  const int64_t groups = w.numel() / m;  // cols % m == 0: no group crosses a row
  const at::Tensor x = w.contiguous();
  bool* out = mask.data_ptr<bool>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "nm_mask", [&] {
    using U = Key<scalar_t>;
    const U* keys = static_cast<const U*>(x.const_data_ptr());
    const int64_t per_group = m * std::min(m, kRankMax);
    const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / per_group);
    at::parallel_for(0, groups, grain, [&](int64_t g0, int64_t g1) {
      nm_keep(keys + g0 * m, g1 - g0, n, m, out + g0 * m);
    });
  });
  return mask;
}

// ---- block_mask ----------------------------------------------------------------------------

// scores[b] = L1 norm of block b of one block row x (block_rows x cols): |x| summed
// down the rows into colsum (vectorised), then across each block's columns.
template <typename T>
void block_row_l1(const T* x, int64_t block_rows, int64_t cols, int64_t block_cols,
                  double* colsum, double* scores) {
  std::fill_n(colsum, cols, 0.0);
  for (int64_t r = 0; r < block_rows; ++r) add_powers<1>(x + r * cols, cols, colsum);
  for (int64_t b = 0; b < cols / block_cols; ++b) {
    const double* c = colsum + b * block_cols;
    if (block_cols >= kLanes) {
      scores[b] = power_sum<1>(c, block_cols);  // |sum| = sum: the sums are >= 0 or NaN
    } else {
      double s = 0.0;
      for (int64_t t = 0; t < block_cols; ++t) s += c[t];
      scores[b] = s;
    }
  }
}

at::Tensor block_mask_cpu(const at::Tensor& w, int64_t block_rows, int64_t block_cols,
                          double sparsity) {
  constexpr const char* op = "block_mask";
  check_float_cpu(op, "w", w);
  check_has_dim(op, w);
  TORCH_CHECK(block_rows >= 1, "compressor.block_mask: block_rows must be positive, got ",
              block_rows);
  TORCH_CHECK(block_cols >= 1, "compressor.block_mask: block_cols must be positive, got ",
              block_cols);
  check_sparsity(op, sparsity);
  const auto [rows, cols] = matrix_view(w);
  TORCH_CHECK(rows % block_rows == 0 && cols % block_cols == 0,
              "compressor.block_mask: block_rows x block_cols = ", block_rows, " x ", block_cols,
              " must divide w viewed as [rows, cols] = [", rows, ", ", cols, "] (w has shape ",
              w.sizes(), ")");
  at::Tensor mask = at::empty(w.sizes(), w.options().dtype(at::kBool));
  const int64_t grid_rows = rows / block_rows;
  const int64_t grid_cols = cols / block_cols;
  const int64_t blocks = grid_rows * grid_cols;
  const int64_t k = prune_count(sparsity, blocks);
  if (k == 0 || k == blocks) return mask.fill_(k == 0);

  const at::Tensor x = w.contiguous();
  std::vector<double> scores(blocks);
  const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / (block_rows * cols));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "block_mask", [&] {
    const scalar_t* data = x.const_data_ptr<scalar_t>();
    at::parallel_for(0, grid_rows, grain, [&](int64_t b0, int64_t b1) {
      std::vector<double> colsum(cols);
      for (int64_t bi = b0; bi < b1; ++bi) {
        block_row_l1(data + bi * block_rows * cols, block_rows, cols, block_cols, colsum.data(),
                     scores.data() + bi * grid_cols);
      }
    });
  });

  // The k lowest (score, index). Scores are >= 0 or NaN, so their bits with the sign
  // cleared order them as numbers, NaN above +inf; pairs keep the selection in cache.
  std::vector<std::pair<uint64_t, int64_t>> order(blocks);
  for (int64_t b = 0; b < blocks; ++b) {
    order[b] = {c10::bit_cast<uint64_t>(scores[b]) & kAbsMask<uint64_t>, b};
  }
  std::nth_element(order.begin(), order.begin() + k, order.end());
  std::vector<uint8_t> keep(blocks, 1);
  for (int64_t i = 0; i < k; ++i) keep[order[i].second] = 0;

  // One row per block row from the keep flags, copied to the block row's other rows.
  bool* out = mask.data_ptr<bool>();
  at::parallel_for(0, grid_rows, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; ++bi) {
      bool* first = out + bi * block_rows * cols;
      const uint8_t* kb = keep.data() + bi * grid_cols;
      for (int64_t b = 0; b < grid_cols; ++b) {
        for (int64_t t = 0; t < block_cols; ++t) first[b * block_cols + t] = kb[b] != 0;
      }
      for (int64_t r = 1; r < block_rows; ++r) std::copy_n(first, cols, first + r * cols);
    }
  });
  return mask;
}

}  // namespace

TORCH_LIBRARY_IMPL(compressor, CPU, m) {
  m.impl("structure_norms", &structure_norms_cpu);
  m.impl("fpgm_scores", &fpgm_scores_cpu);
  m.impl("nm_mask", &nm_mask_cpu);
  m.impl("block_mask", &block_mask_cpu);
}

}  // namespace compressor::cpu
