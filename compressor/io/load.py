"""``compressor.load(path)``: the model of any compressor checkpoint, in eval mode.

The checkpoint's phase decides how it is rebuilt: a sparse inference checkpoint
(``compress sparse``, :mod:`.sparse`) gives its SparseLinear / SparseConv2d model,
any other (a run's, or ``compress thin``'s) its dense architecture re-thinned by its
recipe (:mod:`.spec`).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .checkpoint import is_sparse_state, load_checkpoint
from .sparse import sparse_model_from_state
from .spec import dense_model_from_state

__all__ = ["load", "model_from_state"]


def model_from_state(state: dict, source: str) -> nn.Module:
    """The checkpoint's architecture, re-thinned by its recipe, with its weights; learned
    scaling factors are folded into the weights (same outputs, plain modules). A sparse
    checkpoint (``compress sparse``) gives its SparseLinear / SparseConv2d model."""
    if is_sparse_state(state):
        return sparse_model_from_state(state, source)
    return dense_model_from_state(state, source)


def load(path: str | Path) -> nn.Module:
    """``compressor.load(path)``: the model of a checkpoint (thinned and sparse ones
    included), in eval mode, without the schedule."""
    model = model_from_state(load_checkpoint(path), str(path))
    return model.eval()
