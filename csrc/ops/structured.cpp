// Schemas of the structured-pruning criteria, torch.ops.compressor.*.
//
// Kernels: csrc/ops/cpu/structured_kernel.cpp. Typed Python wrappers and fake
// (meta) implementations: compressor/ops/structured.py.
//
// Shared conventions:
// * w is a floating tensor (float32, float16, bfloat16, float64) of any shape
//   with at least one dimension and any strides.
// * Scores (structure_norms, fpgm_scores) are float64 for a float64 w and
//   float32 otherwise; they are accumulated in float64 either way.
// * The mask ops view w as a matrix [rows, cols]: rows = w.size(0) and cols =
//   the product of the other sizes, except a 1-D w, which is one row
//   [1, numel]. Masks are bool, shaped like w, contiguous, True = keep.
// * Magnitudes order as in csrc/ops/masks.cpp: |x|, with NaN above +inf, and
//   ties go to the lower (flat or block) index.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(compressor, m) {
  // Lp norm (p = 1 or 2) of each slice w.select(dim, i), one value per index
  // of `dim` (negative dims count from the end):
  // w.transpose(0, dim).flatten(1).norm(p, dim=1).
  m.def("structure_norms(Tensor w, int dim, float p) -> Tensor");
  // FPGM redundancy score of each filter w[i] (flattened): the sum of its
  // Euclidean distances to all filters, torch.cdist(f, f).sum(1) with
  // f = w.reshape(w.size(0), -1). The smallest sums are nearest the geometric
  // median: the most redundant filters.
  m.def("fpgm_scores(Tensor w) -> Tensor");
  // N:M semi-structured mask: in each run of m consecutive entries of a row,
  // the n with the largest |w| are kept (ties: the lower index is kept).
  // m must divide cols; 0 < n <= m.
  m.def("nm_mask(Tensor w, int n, int m) -> Tensor");
  // Block mask: [rows, cols] cut into block_rows x block_cols blocks scored by
  // their L1 norm; the round-half-even(sparsity * blocks) lowest-scoring blocks
  // are pruned (ties: the lower row-major block index is pruned first).
  m.def("block_mask(Tensor w, int block_rows, int block_cols, float sparsity) -> Tensor");
}
