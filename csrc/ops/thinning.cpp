// Schema of the thinning gather, torch.ops.compressor.gather_channels.
//
// Kernel: csrc/ops/cpu/thinning_kernel.cpp. Typed Python wrapper and fake
// (meta) implementation: compressor/ops/thinning.py.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(compressor, m) {
  // w[out_idx][:, in_idx] in one pass: the rows (dim 0) listed in out_idx and,
  // of each, the columns (dim 1) listed in in_idx, in the order given, with
  // every further dimension kept whole. An absent index list keeps the whole
  // axis. w: float16, bfloat16, float32, float64 or bool, at least 1-D (a 1-D w
  // takes no in_idx), any strides. Indices: 1-D int64 in [0, size) (no
  // negative wrap-around; duplicates allowed). The result is a new contiguous
  // tensor of w's dtype: [len(out_idx), len(in_idx), *w.shape[2:]].
  m.def("gather_channels(Tensor w, Tensor? out_idx, Tensor? in_idx) -> Tensor");
}
