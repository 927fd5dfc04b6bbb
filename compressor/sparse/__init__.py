"""Sparse inference: packed weight formats, sparse-kernel layers and model conversion.

* :func:`convert` swaps pruned ``nn.Linear`` / ``nn.Conv2d`` layers of a model for
  :class:`SparseLinear` / :class:`SparseConv2d`, timing each layer's candidate
  formats against dense and keeping the fastest; :mod:`compressor.sparse.fold` folds
  an eval-mode BatchNorm into the converted conv it follows.
* the packed layers call the C++ operators ``torch.ops.compressor.sparse_*``, whose
  typed wrappers are :mod:`compressor.ops.sparse` (packing, Linear, Conv2d).
"""

from .convert import LayerChoice, convert, replace_modules
from .modules import FORMATS, SparseConv2d, SparseLinear

__all__ = ["FORMATS", "LayerChoice", "SparseConv2d", "SparseLinear", "convert", "replace_modules"]
