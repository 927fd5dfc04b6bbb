"""Sparse inference: packed weight formats, sparse-kernel layers and model conversion.

* :func:`convert` swaps pruned ``nn.Linear`` / ``nn.Conv2d`` layers of a model for
  :class:`SparseLinear` / :class:`SparseConv2d`, timing each layer's candidate
  formats against dense and keeping the fastest; :mod:`compressor.sparse.fold` folds
  an eval-mode BatchNorm into the converted conv it follows.
* :mod:`compressor.sparse.int8` quantizes packed weights to int8 per output row:
  :class:`SparseLinearInt8` (weight-only or int8 x int8) and :class:`DenseLinearInt8`
  (the dense int8 layer ``convert(..., dtype="int8")`` also times).
* the packed layers call the C++ operators ``torch.ops.compressor.sparse_*``, whose
  typed wrappers are :mod:`compressor.ops.sparse` (packing, Linear, Conv2d).
"""

from .convert import LayerChoice, convert, replace_modules
from .int8 import DenseLinearInt8, SparseLinearInt8, dequantize_packed, quantize_packed
from .modules import FORMATS, SparseConv2d, SparseLinear

__all__ = ["FORMATS", "DenseLinearInt8", "LayerChoice", "SparseConv2d", "SparseLinear",
           "SparseLinearInt8", "convert", "dequantize_packed", "quantize_packed", "replace_modules"]
