"""SparseLinear / SparseConv2d: packing from a dense weight, state dicts, errors
(compressor/sparse/modules.py)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from compressor.sparse import FORMATS, SparseConv2d, SparseLinear

from ..helpers import close, weight_for

# ---- modules -----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_sparse_linear_from_dense_and_state_dict(fmt):
    dense = nn.Linear(30, 20)
    with torch.no_grad():
        dense.weight.copy_(weight_for(fmt, 20, 30, 0.6))
    sparse = SparseLinear.from_dense(dense, format=fmt)
    x = torch.randn(5, 30)
    with torch.no_grad():
        close(sparse(x), dense(x), 30)
    assert torch.equal(sparse.dense_weight(), dense.weight)
    assert f"format='{fmt}'" in repr(sparse)
    buf = io.BytesIO()
    torch.save(sparse.state_dict(), buf)
    buf.seek(0)
    fresh = SparseLinear(30, 20, format=fmt)  # all-zero weight: other buffer sizes
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    with torch.no_grad():
        assert torch.equal(fresh(x), sparse(x))
    if fmt != "2:4":
        other = SparseLinear(30, 20, format="4x1" if fmt != "4x1" else "csr")
        with pytest.raises(RuntimeError, match="packed weight of this module needs"):
            other.load_state_dict(sparse.state_dict())


def test_sparse_module_errors():
    with pytest.raises(ValueError, match="format must be one of"):
        SparseLinear.from_dense(nn.Linear(4, 4), format="bsr")
    with pytest.raises(ValueError, match="must be torch.float32"):
        SparseLinear.from_dense(nn.Linear(4, 4).double())
    with pytest.raises(TypeError, match="expected an nn.Linear"):
        SparseLinear.from_dense(nn.Conv2d(4, 4, 1))
    with pytest.raises(ValueError, match="only groups=1"):
        SparseConv2d.from_dense(nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(ValueError, match="padding_mode='zeros'"):
        SparseConv2d.from_dense(nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="pads asymmetrically"):
        SparseConv2d.from_dense(nn.Conv2d(4, 4, 2, padding="same"))
    with pytest.raises(ValueError, match="not 2:4 sparse in either column order"):
        SparseConv2d.from_dense(nn.Conv2d(4, 4, 3), format="2:4")
    with pytest.raises(RuntimeError, match="sparse_bsr_linear: x must be torch.float32"):
        SparseLinear.from_dense(nn.Linear(4, 4))(torch.randn(2, 4).double())
    with pytest.raises(RuntimeError, match="sparse_bsr_conv2d: x must have in_channels = 4"):
        SparseConv2d.from_dense(nn.Conv2d(4, 4, 3))(torch.randn(2, 3, 5, 5))
    same = nn.Conv2d(3, 5, 3, padding="same", dilation=2)
    x = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        close(SparseConv2d.from_dense(same)(x), same(x), 27)
