"""int8 layers: per-row quantization of packed weights and its round trip, SparseLinearInt8
in both arithmetics, DenseLinearInt8, state dicts (compressor/sparse/int8.py)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from compressor.sparse import (
    FORMATS,
    DenseLinearInt8,
    SparseLinear,
    SparseLinearInt8,
    dequantize_packed,
    quantize_packed,
)
from compressor.sparse.modules import pack, unpack

from ..helpers import close, weight_for


def linear(fmt: str, out: int = 20, inp: int = 30, sparsity: float = 0.6) -> nn.Linear:
    layer = nn.Linear(inp, out)
    with torch.no_grad():
        layer.weight.copy_(weight_for(fmt, out, inp, sparsity))
    return layer


@pytest.mark.parametrize("fmt", FORMATS)
def test_quantize_packed_is_per_row_symmetric_and_round_trips(fmt):
    w = weight_for(fmt, 21, 30, 0.5)
    w[4] = 0  # an all-zero row: scale 0, values 0
    buffers = pack(w, fmt)
    q, scales = quantize_packed(buffers, fmt, (21, 30))
    assert q["values"].dtype == torch.int8 and scales.shape == (21,)
    assert all(torch.equal(q[k], buffers[k]) for k in buffers if k != "values")  # same indices
    assert torch.equal(scales, w.abs().amax(1) / 127) and scales[4] == 0
    dense_q = unpack({**q, "values": q["values"].float()}, fmt, (21, 30))
    assert dense_q.abs().max() <= 127 and (dense_q.abs().amax(1)[scales > 0] == 127).all()
    safe = torch.where(scales > 0, scales, torch.ones_like(scales))
    assert torch.equal(dense_q, torch.round(w / safe[:, None]).clamp(-127, 127))
    back = unpack(dequantize_packed(q, scales, fmt, (21, 30)), fmt, (21, 30))
    assert torch.equal(back, dense_q * scales[:, None])
    assert ((back - w).abs() <= scales[:, None] / 2 + 1e-7).all()  # half a step per row
    # quantizing the dequantized weight gives the same int8 weight back
    again, scales2 = quantize_packed(pack(back, fmt), fmt, (21, 30))
    torch.testing.assert_close(scales2, scales)
    assert torch.equal(unpack({**again, "values": again["values"].float()}, fmt, (21, 30)), dense_q)


def test_quantize_packed_rejects_non_finite():
    w = weight_for("csr", 4, 8, 0.5)
    w[0, 0] = float("nan")
    with pytest.raises(ValueError, match="inf or NaN"):
        quantize_packed(pack(w, "csr"), "csr", (4, 8))


@pytest.mark.parametrize("activations", ["float", "int8"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_sparse_linear_int8_forward_and_state_dict(fmt, activations):
    dense = linear(fmt)
    layer = SparseLinearInt8.from_dense(dense, format=fmt, activations=activations)
    x = torch.randn(5, 30)
    with torch.no_grad():
        y = layer(x)
        ref = nn.functional.linear(x, layer.dense_weight(), dense.bias)
        if activations == "float":
            close(y, ref, 30)
        else:  # the x quantization error only: at most half a step of x per input
            xs = (x.max().clamp(min=0) - x.min().clamp(max=0)) / 255
            bound = xs / 2 * layer.dense_weight().abs().sum(1) + 1e-4
            assert ((y - ref).abs() <= bound).all()
        assert (y - dense(x)).abs().max() < 0.02 * dense(x).abs().max()  # int8 vs float32
    assert f"activations='{activations}'" in repr(layer)
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert state["values"].dtype == torch.int8 and state["scales"].dtype == torch.float32
    fresh = SparseLinearInt8(30, 20, format=fmt, activations=activations)
    fresh.load_state_dict(state)
    with torch.no_grad():
        assert torch.equal(fresh(x), y)


@pytest.mark.parametrize("fmt", FORMATS)
def test_int8_x_int8_equals_dense_int8(fmt):
    # The same quantized arithmetic: the sparse kernel and torch._int_mm agree bit for bit.
    dense = linear(fmt, 40, 70, 0.7)
    for per_row in (False, True):
        sparse = SparseLinearInt8.from_dense(dense, format=fmt, per_row=per_row)
        ref = DenseLinearInt8.from_dense(dense, per_row=per_row)
        for shape in ((1, 70), (7, 70), (2, 3, 70)):
            x = torch.randn(shape)
            with torch.no_grad():
                assert torch.equal(sparse(x), ref(x))


def test_from_sparse_keeps_format_indices_and_relu():
    fp32 = SparseLinear.from_dense(linear("4x1"), format="4x1", relu=True)
    q = SparseLinearInt8.from_sparse(fp32, activations="float")
    assert q.format == "4x1" and q.relu and torch.equal(q.col_idx, fp32.col_idx)
    x = torch.randn(3, 30)
    with torch.no_grad():
        assert (q(x) >= 0).all()
        close(q(x), torch.relu(nn.functional.linear(x, q.dense_weight(), fp32.bias)), 30)


def test_dense_linear_int8_state_dict_and_empty_batch():
    dense = linear("csr")
    layer = DenseLinearInt8.from_dense(dense)
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    fresh = DenseLinearInt8(30, 20)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(4, 30)
    with torch.no_grad():
        assert torch.equal(fresh(x), layer(x))
        assert fresh(torch.randn(0, 30)).shape == (0, 20)


def test_int8_layer_errors():
    with pytest.raises(ValueError, match="activations must be one of"):
        SparseLinearInt8.from_dense(nn.Linear(4, 4), activations="int4")
    with pytest.raises(TypeError, match="expected an nn.Linear"):
        SparseLinearInt8.from_dense(nn.Conv2d(4, 4, 1))
    with pytest.raises(TypeError, match="expected a SparseLinear"):
        SparseLinearInt8.from_sparse(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="must be torch.float32"):
        DenseLinearInt8.from_dense(nn.Linear(4, 4).double())
    layer = SparseLinearInt8.from_dense(nn.Linear(4, 4))
    with pytest.raises(RuntimeError, match="sparse_quantize_activations: x must be torch.float32"):
        layer(torch.randn(2, 4).double())
    with pytest.raises(RuntimeError, match="x holds an inf or NaN"):
        layer(torch.full((2, 4), float("inf")))
