// Schemas of the mask operators, torch.ops.compressor.*.
//
// Kernels: csrc/ops/cpu/masks_select_kernel.cpp (the selection ops) and
// csrc/ops/cpu/masks_apply_kernel.cpp (apply_mask_). Typed Python wrappers and
// fake (meta) implementations: compressor/ops/masks.py.
//
// A fragment, not TORCH_LIBRARY: only one TORCH_LIBRARY block may exist per
// namespace, and other op families add their own fragments to `compressor`.
//
// Semantics shared by the selection ops: the magnitude of x is |x| with NaN
// above +inf (as torch.kthvalue and torch.topk order it); k = round-half-even(
// sparsity * numel) entries are pruned; ties at the threshold are pruned in
// increasing flat (row-major) index, across a list in increasing list index.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(compressor, m) {
  // The k-th smallest |w| as a 0-dim tensor of w's dtype (exactly
  // w.abs().flatten().kthvalue(k).values); -inf when k == 0, which includes an
  // empty w. compressor.ops.magnitude_threshold returns it as a Python float.
  m.def("magnitude_threshold(Tensor w, float sparsity) -> Tensor");
  // Bool tensor shaped like w, True = keep; exactly k entries are False.
  m.def("magnitude_mask(Tensor w, float sparsity) -> Tensor");
  // One mask per tensor; k = round(sparsity * total numel) pruned across all.
  // The dispatcher needs a tensor to pick a kernel, so an empty list is handled
  // by the Python wrapper (it returns []).
  m.def("global_magnitude_masks(Tensor[] ws, float sparsity) -> Tensor[]");
  // w[~mask] = 0 in place (+0.0, as masked_fill; unlike mul_, NaN/inf become 0).
  m.def("apply_mask_(Tensor(a!) w, Tensor mask) -> ()");
}
