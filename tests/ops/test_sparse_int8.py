"""The int8 sparse ops against pure-PyTorch references of the same quantized arithmetic
(compressor/ops/sparse.py, csrc/ops/cpu/sparse_int8_kernel.cpp, csrc/cpu/sparse/int8*).

q8 (int8 x int8): integer sums in int64, then the same float32 operations; the kernels
must agree bit for bit. w8 (weight-only): float sums, agreement to float rounding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import compressor._C as _C
from compressor.ops import sparse as sparse_ops
from compressor.sparse import FORMATS
from compressor.sparse.modules import pack, unpack

from ..helpers import close, weight_for

OPS = torch.ops.compressor
_LEVELS = ["portable", "avx2", "avx512", "avx512_vnni"]
_BEST = _C.cpu_int8_isa()
ISAS = _LEVELS[:_LEVELS.index(_BEST) + 1][::-1]


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    monkeypatch.setenv("COMPRESSOR_SPARSE_ISA", request.param)
    assert _C.cpu_int8_isa() == request.param
    return request.param


# ---- references ----------------------------------------------------------------------------

def ref_quantize(x: torch.Tensor, per_row: bool, symmetric: bool):
    """sparse_quantize_activations in PyTorch, one float32 operation at a time."""
    x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    if per_row:
        lo = x2.amin(1) if x2.shape[1] else x2.new_zeros(x2.shape[0])
        hi = x2.amax(1) if x2.shape[1] else x2.new_zeros(x2.shape[0])
    else:
        lo = x2.amin().view(1) if x2.numel() else x2.new_zeros(1)
        hi = x2.amax().view(1) if x2.numel() else x2.new_zeros(1)
    lo, hi = lo.clamp(max=0), hi.clamp(min=0)
    if symmetric:
        scale = torch.maximum(-lo, hi) / 127
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        zp = torch.zeros_like(scale)
        xq = torch.round(x2 / scale.view(-1, 1)).clamp(-127, 127).to(torch.int8)
    else:
        scale = (hi - lo) / 255
        scale = torch.where(scale == 0, torch.ones_like(scale), scale)
        zp = torch.round(-lo / scale).clamp(0, 255)
        xq = (torch.round(x2 / scale.view(-1, 1)) + zp.view(-1, 1)).clamp(0, 255).to(torch.uint8)
    return xq.view(x.shape), scale, zp.to(torch.int32)


def ref_q8(xq, x_scale, x_zp, q_dense, scales, bias=None, relu=False):
    """Exact int64 sums of q_dense [M, K] (int8) and xq - zp, then the float32 epilogue."""
    m, k = q_dense.shape
    acc = (xq.reshape(-1, k).long() - x_zp.long().view(-1, 1)) @ q_dense.long().t()
    y = acc.float() * (x_scale.view(-1, 1) * scales.view(1, -1))
    if bias is not None:
        y = y + bias
    if relu:
        y = torch.relu(y)
    return y.view(*xq.shape[:-1], m)


def same(actual, expected):
    """Bit-identical, NaN where NaN (extreme scales overflow to inf and inf * 0)."""
    torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True)


def ref_w8(x, q_dense, scales, bias=None, relu=False):
    y = F.linear(x, q_dense.float() * scales.view(-1, 1), bias)
    return torch.relu(y) if relu else y


def int8_weight(fmt: str, out: int, inp: int, sparsity: float, gen: torch.Generator):
    """Packed int8 buffers (values random in [-128, 127] at the pattern's non-zeros, so
    padding stays 0), the dense int8 weight and positive scales."""
    w = weight_for(fmt, out, inp, sparsity)
    buffers = pack(w, fmt)
    pattern = buffers["values"] != 0
    q = torch.randint(-128, 128, buffers["values"].shape, generator=gen, dtype=torch.int8) * pattern
    buffers["values"] = q.to(torch.int8)
    dense = unpack({**buffers, "values": buffers["values"].float()}, fmt, (out, inp)).to(torch.int8)
    scales = torch.rand(out, generator=gen) * 0.01 + 1e-4
    return buffers, dense, scales


def run_w8(x, fmt, b, scales, out, inp, bias=None, relu=False):
    if fmt == "2:4":
        return sparse_ops.nm24_linear_w8(x, b["values"], b["indices"], scales, inp, bias, relu)
    return sparse_ops.bsr_linear_w8(x, b["values"], scales, b["col_idx"], b["row_ptr"], out, inp, bias,
                                    relu)


def run_q8(xq, xs, xz, fmt, b, scales, out, inp, bias=None, relu=False):
    if fmt == "2:4":
        return sparse_ops.nm24_linear_q8(xq, xs, xz, b["values"], b["indices"], scales, inp, bias, relu)
    return sparse_ops.bsr_linear_q8(xq, xs, xz, b["values"], scales, b["col_idx"], b["row_ptr"], out,
                                    inp, bias, relu)


# ---- quantization of x ---------------------------------------------------------------------

@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("per_row", [False, True])
def test_quantize_activations_matches_reference(per_row, symmetric):
    gen = torch.Generator().manual_seed(0)
    cases = [torch.randn(1, 70, generator=gen), torch.randn(5, 3, 17, generator=gen) * 40,
             torch.rand(4, 9, generator=gen) + 1, -torch.rand(2, 33, generator=gen),
             torch.zeros(3, 5), torch.randn(6, 1, generator=gen), torch.randn(2, 0), torch.randn(0, 4),
             torch.randn(64, 300, generator=gen).t(),  # strided rows
             torch.tensor([[0.5, 1.5, 2.5, -0.5, -2.5, 1e-30, 3e38, -3e38]])]
    for x in cases:
        got = sparse_ops.quantize_activations(x, per_row, symmetric)
        want = ref_quantize(x, per_row, symmetric)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and torch.equal(g, w), (x.shape, g, w)


def test_quantize_activations_rejects_inf_and_nan():
    for bad in (float("inf"), float("nan")):
        x = torch.randn(3, 8)
        x[1, 2] = bad
        with pytest.raises(RuntimeError, match="sparse_quantize_activations: x holds an inf or NaN"):
            sparse_ops.quantize_activations(x)
    with pytest.raises(RuntimeError, match="x must be torch.float32"):
        sparse_ops.quantize_activations(torch.randn(2, 3, dtype=torch.float64))


# ---- Linear --------------------------------------------------------------------------------

SHAPES = [(1, 1), (7, 5), (33, 70), (64, 64), (130, 257), (5, 300)]
BATCHES = [(1,), (2,), (3,), (17,), (64,), (2, 3)]


QUANT_MODES = [(False, False), (True, False), (True, True), (False, True)]  # (per_row, symmetric)


@pytest.mark.parametrize("sparsity", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_q8_is_exact(isa, fmt, sparsity):
    gen = torch.Generator().manual_seed(1)
    for i, (out, inp) in enumerate(SHAPES):
        b, dense, scales = int8_weight(fmt, out, inp, sparsity, gen)
        for j, batch in enumerate(BATCHES):
            x = torch.randn(*batch, inp, generator=gen) * 3
            bias = torch.randn(out, generator=gen) if (i + j) % 2 else None
            relu = (i + j) % 3 == 0
            per_row, symmetric = QUANT_MODES[(i + j) % 4]
            xq, xs, xz = sparse_ops.quantize_activations(x, per_row, symmetric)
            y = run_q8(xq, xs, xz, fmt, b, scales, out, inp, bias, relu)
            assert y.shape == (*batch, out) and y.dtype == torch.float32 and y.is_contiguous()
            same(y, ref_q8(xq, xs, xz, dense, scales, bias, relu))


@pytest.mark.parametrize("sparsity", [0.0, 0.7, 1.0])
@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_w8_matches_reference(isa, fmt, sparsity):
    gen = torch.Generator().manual_seed(2)
    for i, (out, inp) in enumerate(SHAPES):
        b, dense, scales = int8_weight(fmt, out, inp, sparsity, gen)
        for j, batch in enumerate(BATCHES):
            x = torch.randn(*batch, inp, generator=gen)
            bias = torch.randn(out, generator=gen) if (i + j) % 2 else None
            relu = (i + j) % 3 == 0
            y = run_w8(x, fmt, b, scales, out, inp, bias, relu)
            assert y.shape == (*batch, out) and y.is_contiguous()
            close(y, ref_w8(x, dense, scales, bias, relu), inp)


@pytest.mark.parametrize("fmt", FORMATS)
def test_integer_part_is_exact_with_unit_scales(isa, fmt):
    # Unit scales and no bias: y is the integer sum itself (|sum| < 2^24), for both modes.
    gen = torch.Generator().manual_seed(3)
    b, dense, _ = int8_weight(fmt, 40, 600, 0.5, gen)
    ones = torch.ones(40)
    for batch in (1, 2, 5, 40):
        xq = torch.randint(0, 256, (batch, 600), generator=gen, dtype=torch.uint8)
        zp = torch.randint(0, 256, (batch,), generator=gen, dtype=torch.int32)
        y = run_q8(xq, torch.ones(batch), zp, fmt, b, ones, 40, 600)
        want = (xq.long() - zp.long().view(-1, 1)) @ dense.long().t()
        assert torch.equal(y, want.float())
        # w8 with integer x: exact as well (products and partial sums below 2^24)
        xi = torch.randint(-8, 8, (batch, 600), generator=gen).float()
        assert torch.equal(run_w8(xi, fmt, b, ones, 40, 600), (xi.long() @ dense.long().t()).float())


@pytest.mark.parametrize("fmt", FORMATS)
def test_edge_cases(isa, fmt):
    gen = torch.Generator().manual_seed(4)
    b, dense, scales = int8_weight(fmt, 40, 24, 0.5, gen)
    dense[3:9] = 0  # empty rows (a whole 4x1 block row too)
    b = pack(dense.float(), fmt)
    b["values"] = b["values"].to(torch.int8)
    zero = pack(torch.zeros(40, 24), fmt)
    zero["values"] = zero["values"].to(torch.int8)
    extreme = torch.tensor([1e-30, 1e30, 0.0, 3e38] * 10)
    for buffers, d in ((b, dense), (zero, torch.zeros(40, 24, dtype=torch.int8))):
        for batch in (1, 2, 5, 40):
            x = torch.randn(batch, 24, generator=gen) * 100
            for sc in (scales, extreme):
                xq, xs, xz = sparse_ops.quantize_activations(x, True, False)
                same(run_q8(xq, xs, xz, fmt, buffers, sc, 40, 24), ref_q8(xq, xs, xz, d, sc))
            # int8 x with negative zero points, per row and per tensor
            xq = torch.randint(-128, 128, (batch, 24), generator=gen, dtype=torch.int8)
            for zp in (torch.randint(-128, 128, (batch,), dtype=torch.int32),
                       torch.tensor([-128], dtype=torch.int32)):
                xs = torch.rand(zp.shape, generator=gen) + 0.5
                assert torch.equal(run_q8(xq, xs, zp, fmt, buffers, scales, 40, 24),
                                   ref_q8(xq, xs, zp, d, scales))
    # no rows of x, no outputs
    xq, xs, xz = sparse_ops.quantize_activations(torch.randn(0, 24))
    assert run_q8(xq, xs, xz, fmt, b, scales, 40, 24).shape == (0, 40)
    assert run_w8(torch.randn(3, 0, 24), fmt, b, scales, 40, 24).shape == (3, 0, 40)


def test_csr_16bit_column_edge(isa):
    # in_features = 65536: column 65535 is the largest a 16-bit index holds.
    gen = torch.Generator().manual_seed(5)
    k = 65536
    w = torch.zeros(6, k)
    cols = torch.tensor([0, 1, 40000, 65534, 65535])
    w[:, cols] = torch.randint(-127, 128, (6, 5), generator=gen).float()
    w[2] = 0
    b = pack(w, "csr")
    b["values"] = b["values"].to(torch.int8)
    dense, scales = w.to(torch.int8), torch.rand(6, generator=gen) + 0.1
    for batch in (1, 3):
        x = torch.randn(batch, k, generator=gen)
        xq, xs, xz = sparse_ops.quantize_activations(x)
        assert torch.equal(run_q8(xq, xs, xz, "csr", b, scales, 6, k), ref_q8(xq, xs, xz, dense, scales))
        close(run_w8(x, "csr", b, scales, 6, k), ref_w8(x, dense, scales), 5)
    # more inputs than the int32 sums are exact for: refused with quantized x
    b2 = pack(torch.zeros(2, k + 4), "1x4")
    b2["values"] = b2["values"].to(torch.int8)
    xq, xs, xz = sparse_ops.quantize_activations(torch.randn(1, k + 4))
    with pytest.raises(RuntimeError, match="in_features must be at most 65536 with quantized x"):
        run_q8(xq, xs, xz, "1x4", b2, torch.ones(2), 2, k + 4)


@pytest.mark.parametrize("fmt", FORMATS)
def test_parallel_matches_serial(fmt):
    gen = torch.Generator().manual_seed(6)
    b, dense, scales = int8_weight(fmt, 1024, 600, 0.6, gen)
    for batch in (1, 2, 16, 48):
        x = torch.randn(batch, 600, generator=gen)
        xq, xs, xz = sparse_ops.quantize_activations(x)
        torch.set_num_threads(1)
        one = (run_q8(xq, xs, xz, fmt, b, scales, 1024, 600), run_w8(x, fmt, b, scales, 1024, 600))
        torch.set_num_threads(2)
        two = (run_q8(xq, xs, xz, fmt, b, scales, 1024, 600), run_w8(x, fmt, b, scales, 1024, 600))
        assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])
        assert torch.equal(two[0], ref_q8(xq, xs, xz, dense, scales))


# ---- errors --------------------------------------------------------------------------------

def test_bad_arguments_are_clear_errors(isa):
    gen = torch.Generator().manual_seed(7)
    b, _, scales = int8_weight("csr", 12, 10, 0.5, gen)
    v, c, r = b["values"], b["col_idx"], b["row_ptr"]
    x = torch.randn(3, 10)
    xq, xs, xz = sparse_ops.quantize_activations(x)
    w8, q8 = sparse_ops.bsr_linear_w8, sparse_ops.bsr_linear_q8
    cases = [
        (lambda: w8(x, v.float(), scales, c, r, 12, 10), "sparse_bsr_linear_w8: values must be torch.int8"),
        (lambda: w8(x, v, scales[:5], c, r, 12, 10), "scales must have 12 \\(out_features\\) entries"),
        (lambda: w8(x, v, scales.double(), c, r, 12, 10), "scales must be torch.float32"),
        (lambda: w8(x, v, -scales, c, r, 12, 10), "scales must be finite and >= 0"),
        (lambda: w8(x, v, scales * float("nan"), c, r, 12, 10), "scales must be finite and >= 0"),
        (lambda: w8(x.double(), v, scales, c, r, 12, 10), "x must be torch.float32"),
        (lambda: w8(x[:, :7], v, scales, c, r, 12, 10), "x must have in_features = 10"),
        (lambda: w8(x, v, scales, c, r[:-1], 12, 10), "row_ptr must have ceil"),
        (lambda: q8(x, xs, xz, v, scales, c, r, 12, 10), "xq must be torch.uint8 or torch.int8"),
        (lambda: q8(xq, xs.repeat(2), xz.repeat(2), v, scales, c, r, 12, 10),
         "x_scale must have 1 \\(per tensor\\) or 3 \\(per row of x\\) entries"),
        (lambda: q8(xq, xs, xz.long(), v, scales, c, r, 12, 10), "x_zero_point must be torch.int32"),
        (lambda: q8(xq, xs, xz + 300, v, scales, c, r, 12, 10), "x_zero_point must be in \\[0, 255\\]"),
        (lambda: q8(xq.view(torch.int8), xs, xz + 200, v, scales, c, r, 12, 10),
         "x_zero_point must be in \\[-128, 127\\]"),
        (lambda: q8(xq, -xs, xz, v, scales, c, r, 12, 10), "x_scale must be finite and > 0"),
        (lambda: q8(xq, xs, xz, v, scales, c, r, 12, 10, torch.ones(3)), "bias must have 12"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError, match=message):
            call()
    with pytest.raises(TypeError, match="scales must be a torch.Tensor"):
        w8(x, v, None, c, r, 12, 10)


@pytest.mark.parametrize("fmt", ["csr", "4x1", "1x4"])
def test_out_of_range_columns_are_errors(isa, fmt):
    gen = torch.Generator().manual_seed(8)
    b, _, scales = int8_weight(fmt, 12, 40, 0.3, gen)
    bad = b["col_idx"].clone()
    bad[-1] = -1  # 65535 as uint16
    for batch in (1, 2, 9):
        x = torch.randn(batch, 40)
        xq, xs, xz = sparse_ops.quantize_activations(x)
        with pytest.raises(RuntimeError, match="col_idx holds a block column >="):
            sparse_ops.bsr_linear_w8(x, b["values"], scales, bad, b["row_ptr"], 12, 40)
        with pytest.raises(RuntimeError, match="col_idx holds a block column >="):
            sparse_ops.bsr_linear_q8(xq, xs, xz, b["values"], scales, bad, b["row_ptr"], 12, 40)


def test_nm24_bad_shapes_are_errors():
    v = torch.zeros(4, 3, 2, dtype=torch.int8)
    i = torch.zeros(4, 3, dtype=torch.uint8)
    with pytest.raises(RuntimeError, match="values must have shape \\[out_features, ceil"):
        sparse_ops.nm24_linear_w8(torch.randn(2, 20), v, i, torch.ones(4), 20)
    with pytest.raises(RuntimeError, match="indices must be torch.uint8"):
        sparse_ops.nm24_linear_w8(torch.randn(2, 12), v, i.char(), torch.ones(4), 12)


# ---- opcheck -------------------------------------------------------------------------------

def test_opcheck_every_int8_op():
    gen = torch.Generator().manual_seed(9)
    x, bias = torch.randn(3, 10, generator=gen), torch.randn(12, generator=gen)
    torch.library.opcheck(OPS.sparse_quantize_activations.default, (x, False, False))
    torch.library.opcheck(OPS.sparse_quantize_activations.default, (x.view(3, 2, 5), True, True))
    for fmt in FORMATS:
        b, _, scales = int8_weight(fmt, 12, 10, 0.5, gen)
        for per_row, symmetric in ((False, False), (True, True)):
            xq, xs, xz = sparse_ops.quantize_activations(x, per_row, symmetric)
            if fmt == "2:4":
                torch.library.opcheck(OPS.sparse_nm24_linear_w8.default,
                                      (x, b["values"], b["indices"], scales, 10, bias, True))
                torch.library.opcheck(OPS.sparse_nm24_linear_q8.default,
                                      (xq, xs, xz, b["values"], b["indices"], scales, 10, None, False))
            else:
                args = (b["values"], scales, b["col_idx"], b["row_ptr"], 12, 10)
                torch.library.opcheck(OPS.sparse_bsr_linear_w8.default, (x, *args, bias, True))
                torch.library.opcheck(OPS.sparse_bsr_linear_w8.default, (x[0], *args, None, False))
                torch.library.opcheck(OPS.sparse_bsr_linear_q8.default, (xq, xs, xz, *args, bias, False))
