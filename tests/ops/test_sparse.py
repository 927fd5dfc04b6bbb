"""The sparse inference ops against pure-PyTorch references
(compressor/ops/sparse.py, csrc/ops/sparse.cpp, csrc/ops/cpu/sparse_*)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import compressor._C as _C
from compressor.ops import sparse as sparse_ops
from compressor.sparse import FORMATS, SparseConv2d
from compressor.sparse.modules import pack, unpack

from ..helpers import BLOCKS, close, pruned, two_four, weight_for

OPS = torch.ops.compressor

SPARSITIES = [0.0, 0.5, 0.9, 1.0]
# Every instruction-set variant this CPU can run (the kernels pick by COMPRESSOR_SPARSE_ISA).
_LEVELS = ["portable", "avx2", "avx512"]
ISAS = _LEVELS[:_LEVELS.index(_C.cpu_isa()) + 1][::-1]


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    monkeypatch.setenv("COMPRESSOR_SPARSE_ISA", request.param)
    return request.param


def ref_linear(x, w, b=None, relu=False):
    y = F.linear(x, w, b)
    return F.relu(y) if relu else y


def sparse_linear(x, fmt, packed, out, inp, bias=None, relu=False):
    if fmt == "2:4":
        return sparse_ops.nm24_linear(x, packed["values"], packed["indices"], inp, bias, relu)
    return sparse_ops.bsr_linear(x, packed["values"], packed["col_idx"], packed["row_ptr"], out, inp,
                              bias, relu)


# ---- Linear ------------------------------------------------------------------------------

LINEAR_SHAPES = [(1, 1), (7, 5), (33, 70), (64, 64), (130, 257), (5, 300)]
BATCHES = [(1,), (2,), (3,), (17,), (64,), (2, 3)]


@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_matches_reference(isa, fmt, sparsity):
    for i, (out, inp) in enumerate(LINEAR_SHAPES):
        w = weight_for(fmt, out, inp, sparsity)
        packed = pack(w, fmt)
        for j, batch in enumerate(BATCHES):
            x = torch.randn(*batch, inp)
            bias = torch.randn(out) if (i + j) % 2 else None
            relu = bool((i + j) % 3 == 0)
            y = sparse_linear(x, fmt, packed, out, inp, bias, relu)
            assert y.shape == (*batch, out) and y.is_contiguous()
            close(y, ref_linear(x, w, bias, relu), inp)


@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_empty_rows_fully_pruned_and_empty(fmt):
    w = weight_for(fmt, 40, 24, 0.5)
    w[3:9] = 0  # empty rows (a whole 4x1 block row too)
    w[-1] = 0
    for weight in (w, torch.zeros(40, 24)):
        packed = pack(weight, fmt)
        for batch in (1, 5, 40):
            x = torch.randn(batch, 24)
            bias = torch.randn(40)
            close(sparse_linear(x, fmt, packed, 40, 24, bias), ref_linear(x, weight, bias), 24)
    # no rows of x, no outputs, no inputs
    packed = pack(w, fmt)
    assert sparse_linear(torch.randn(0, 24), fmt, packed, 40, 24).shape == (0, 40)
    assert sparse_linear(torch.randn(3, 0, 24), fmt, packed, 40, 24).shape == (3, 0, 40)
    empty_out = pack(torch.zeros(0, 24), fmt)
    assert sparse_linear(torch.randn(4, 24), fmt, empty_out, 0, 24).shape == (4, 0)
    no_inputs = pack(torch.zeros(6, 0), fmt)
    bias = torch.randn(6)
    close(sparse_linear(torch.randn(4, 0), fmt, no_inputs, 6, 0, bias), bias.expand(4, 6), 1)


@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_non_contiguous_inputs(isa, fmt):
    w = weight_for(fmt, 50, 37, 0.7)
    packed = pack(w, fmt)
    bias = torch.randn(50)
    for x in (torch.randn(37, 9).t(), torch.randn(9, 74)[:, ::2], torch.randn(4, 9, 37)[1],
              torch.randn(1, 80)[:, 3:40], torch.randn(2, 37, 6).transpose(1, 2)):
        assert not x.is_contiguous() or x.storage_offset()
        close(sparse_linear(x, fmt, packed, 50, 37, bias, True), ref_linear(x, w, bias, True), 37)


@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_parallel_matches_serial(fmt):
    # Big enough for several threads and balanced row chunks; bitwise equal to 1 thread.
    w = weight_for(fmt, 1024, 600, 0.6)
    w[100:300] = 0
    packed = pack(w, fmt)
    for batch in (1, 2, 16, 48):  # 16: one column tile shared by row chunks on 2 threads
        x = torch.randn(batch, 600)
        torch.set_num_threads(1)
        one = sparse_linear(x, fmt, packed, 1024, 600)
        torch.set_num_threads(2)
        two = sparse_linear(x, fmt, packed, 1024, 600)
        assert torch.equal(one, two)
        close(two, ref_linear(x, w), 600)


# ---- Conv2d ------------------------------------------------------------------------------

# (in, out, kernel, stride, padding, dilation, H, W)
CONVS = [(3, 8, 3, 1, 1, 1, 9, 10), (16, 12, 1, 1, 0, 1, 7, 7), (5, 6, (3, 2), 2, (1, 0), 2, 11, 8),
         (8, 8, 1, 2, 0, 1, 8, 9), (4, 9, 5, 1, 2, 1, 5, 5), (6, 20, 3, 3, 0, 1, 4, 13),
         (4, 4, 1, 1, 0, 1, 16, 16)]


@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv2d_matches_reference(isa, fmt, sparsity):
    for i, (cin, cout, k, s, p, d, h, wd) in enumerate(CONVS):
        conv = nn.Conv2d(cin, cout, k, s, p, d, bias=i % 2 == 0)
        with torch.no_grad():
            conv.weight.copy_(weight_for(fmt, cout, conv.weight[0].numel(), sparsity)
                              .view_as(conv.weight))
        # the column order matters for 1x4 blocks (2:4: the weight above is 2:4 in (in, kh, kw))
        for hwc in (False, True) if fmt in ("csr", "1x4") else (False,):
            sparse = SparseConv2d.from_dense(conv, format=fmt, hwc=hwc, relu=i % 3 == 1)
            for x in (torch.randn(2, cin, h, wd), torch.randn(cin, h, wd),
                      torch.randn(1, h, wd, cin).permute(0, 3, 1, 2)):
                ref = conv(x)
                ref = F.relu(ref) if sparse.relu else ref
                with torch.no_grad():
                    close(sparse(x), ref, conv.weight[0].numel())


def at_one_and_two_threads(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``module(x)`` on 1 thread, then on 2 (conftest restores the thread count)."""
    with torch.no_grad():
        torch.set_num_threads(1)
        one = module(x)
        torch.set_num_threads(2)
        return one, module(x)


def test_conv2d_parallel_matches_serial():
    conv = nn.Conv2d(32, 64, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(torch.rand_like(conv.weight) > 0.7)
    sparse = SparseConv2d.from_dense(conv, relu=True)
    x = torch.randn(2, 32, 20, 23)
    one, two = at_one_and_two_threads(sparse, x)
    assert torch.equal(one, two)
    with torch.no_grad():
        close(two, F.relu(conv(x)), 288)


def test_conv2d_2to4_in_hwc_order_and_large_images(isa):
    conv = nn.Conv2d(8, 16, 3, padding=1)
    with torch.no_grad():  # 2:4 along input channels at each kernel position (hwc order)
        w = two_four(conv.weight.permute(0, 2, 3, 1).reshape(16, -1))
        conv.weight.copy_(w.view(16, 3, 3, 8).permute(0, 3, 1, 2))
    sparse = SparseConv2d.from_dense(conv, format="2:4")
    assert sparse.hwc
    x = torch.randn(2, 8, 30, 33)  # 990 pixels: several column tiles and a partial one
    with torch.no_grad():
        close(sparse(x), conv(x), 72)
        close(sparse.dense_weight(), conv.weight, 1)


# The direct path (phase grids, pixel tiles, column chunks; sparse_conv_kernel.cpp):
# (in, out, kernel, stride, padding, dilation, H, W, batch). Output widths that are
# not a multiple of a tile, so tiles end mid-row; ResNet-18's stem (7x7 stride 2)
# and a layer4-like 7x7 image; stride 2 with a 1x1 kernel; dilation; asymmetric.
DIRECT_CONVS = [(3, 16, 7, 2, 3, 1, 45, 38, 2), (32, 24, 3, 1, 1, 1, 19, 37, 3),
                (40, 48, 3, 1, 1, 1, 7, 7, 1), (24, 40, 1, 2, 0, 1, 23, 17, 2),
                (20, 36, 3, 2, 1, 1, 30, 29, 1), (16, 12, 3, 1, 2, 2, 21, 26, 2),
                (12, 20, (3, 5), (1, 2), (0, 2), (2, 1), 17, 33, 1), (64, 8, 1, 1, 0, 1, 9, 150, 1)]


def _conv_with(cin, cout, k, s, p, d, fmt, sparsity, bias=True):
    conv = nn.Conv2d(cin, cout, k, s, p, d, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(weight_for(fmt, cout, conv.weight[0].numel(), sparsity)
                          .view_as(conv.weight))
    return conv


# "1": column chunks of one or two input channels (many partial-sum passes); "0": one chunk.
@pytest.mark.parametrize("l1kb", ["default", "1", "0"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_conv2d_direct_tiles_and_chunks(isa, fmt, l1kb, monkeypatch):
    if l1kb != "default":
        monkeypatch.setenv("COMPRESSOR_SPARSE_CONV_L1KB", l1kb)
    gen = torch.Generator().manual_seed(3)
    for i, (cin, cout, k, s, p, d, h, wd, batch) in enumerate(DIRECT_CONVS):
        conv = _conv_with(cin, cout, k, s, p, d, fmt, 0.8, bias=i % 2 == 0)
        x = torch.randn(batch, cin, h, wd, generator=gen)
        ref = conv(x)
        for hwc in (False, True) if fmt in ("csr", "1x4") else (False,):
            sparse = SparseConv2d.from_dense(conv, format=fmt, hwc=hwc, relu=i % 3 == 1)
            with torch.no_grad():
                close(sparse(x), F.relu(ref) if sparse.relu else ref, conv.weight[0].numel())


def test_conv2d_direct_equals_im2col(monkeypatch):
    """The direct and im2col paths compute the same sums (up to rounding)."""
    for cin, cout, k, s, p, d, h, wd, batch in DIRECT_CONVS:
        conv = _conv_with(cin, cout, k, s, p, d, "csr", 0.9)
        sparse = SparseConv2d.from_dense(conv, relu=True)
        x = torch.randn(batch, cin, h, wd)
        with torch.no_grad():
            direct = sparse(x)
            monkeypatch.setenv("COMPRESSOR_SPARSE_CONV_IM2COL", "1")
            im2col = sparse(x)
            monkeypatch.delenv("COMPRESSOR_SPARSE_CONV_IM2COL")
        close(direct, im2col, conv.weight[0].numel())
        close(direct, F.relu(conv(x)), conv.weight[0].numel())


@pytest.mark.parametrize("fmt", FORMATS)
def test_conv2d_direct_two_threads(fmt, monkeypatch):
    """2 threads: whole tiles per thread (large images) or row chunks of one tile (7x7);
    the same sums as 1 thread, bit for bit (the split never reorders a pixel's sum)."""
    monkeypatch.setenv("COMPRESSOR_SPARSE_CONV_L1KB", "4")
    for cin, cout, k, s, p, h, batch in [(64, 64, 3, 1, 1, 28, 2), (128, 96, 3, 1, 1, 7, 1),
                                         (3, 32, 7, 2, 3, 64, 1), (64, 128, 1, 2, 0, 28, 1)]:
        conv = _conv_with(cin, cout, k, s, p, 1, fmt, 0.9)
        sparse = SparseConv2d.from_dense(conv)
        x = torch.randn(batch, cin, h, h)
        one, two = at_one_and_two_threads(sparse, x)
        assert torch.equal(one, two)
        with torch.no_grad():
            close(two, conv(x), conv.weight[0].numel())


def test_conv2d_direct_rejects_out_of_range_columns():
    """A corrupt column is reported before the direct path indexes its row table."""
    v, c, r = sparse_ops.bsr_pack(pruned(8, 27, 0.5))
    c = c.clone()
    c[0] = 27  # column 27 of a 27-column weight
    with pytest.raises(RuntimeError, match="col_idx holds a block column >= "):
        sparse_ops.bsr_conv2d(torch.randn(1, 3, 20, 20), v, c, r, (8, 3, 3, 3), padding=1)


# ---- packing -----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_pack_round_trip_and_layout(fmt):
    for out, inp in [(1, 1), (9, 13), (64, 130)]:
        for sparsity in SPARSITIES:
            w = weight_for(fmt, out, inp, sparsity)
            packed = pack(w, fmt)
            assert torch.equal(unpack(packed, fmt, (out, inp)), w)
            if fmt == "2:4":
                assert packed["values"].shape == (out, -(-inp // 4), 2)
                assert packed["indices"].dtype == torch.uint8
                continue
            r, c = BLOCKS[fmt]
            values, col_idx, row_ptr = packed["values"], packed["col_idx"], packed["row_ptr"]
            assert values.shape[1:] == (r, c) and col_idx.dtype == torch.int16
            assert row_ptr.shape == (-(-out // r) + 1,) and row_ptr[-1] == values.shape[0]
            if fmt == "csr":
                assert values.shape[0] == int((w != 0).sum())


def test_pack_16_bit_columns_and_nan():
    w = torch.zeros(2, 65536)
    w[0, 65535] = 1.5
    w[1, 40000] = float("nan")  # NaN counts as non-zero
    v, c, r = sparse_ops.bsr_pack(w)
    assert v.numel() == 2 and (c.long() & 0xFFFF).tolist() == [65535, 40000]
    x = torch.randn(1, 65536)
    y = sparse_ops.bsr_linear(x, v, c, r, 2, 65536)
    assert y[0, 0] == 1.5 * x[0, 65535] and y[0, 1].isnan()
    with pytest.raises(RuntimeError, match="at most 65536"):
        sparse_ops.bsr_pack(torch.zeros(1, 65537))
    sparse_ops.bsr_pack(torch.zeros(1, 65537 * 4 - 4), (1, 4))  # 65536 block columns fit


def test_pack_rejects_bad_arguments():
    with pytest.raises(RuntimeError, match=r"sparse_nm24_pack: weight is not 2:4 sparse: row 1, "
                                           r"inputs 4..7 hold 3 non-zeros"):
        w = torch.zeros(3, 9)
        w[1, 4:7] = 1
        w[2, :] = 1
        sparse_ops.nm24_pack(w)
    with pytest.raises(RuntimeError, match=r"block shape .* must be \(1, 1\), \(4, 1\) or \(1, 4\)"):
        sparse_ops.bsr_pack(torch.ones(4, 4), (2, 2))
    with pytest.raises(RuntimeError, match="weight must be torch.float32, got torch.float64"):
        sparse_ops.bsr_pack(torch.ones(4, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="weight must be 2-D"):
        sparse_ops.nm24_pack(torch.ones(4))
    with pytest.raises(TypeError, match="weight must be a torch.Tensor"):
        sparse_ops.bsr_pack([[1.0]])
    with pytest.raises(ValueError, match="block_shape must be"):
        sparse_ops.bsr_pack(torch.ones(4, 4), (1, 1, 1))


# ---- invalid inputs ----------------------------------------------------------------------

def _csr(out=6, inp=8):
    return sparse_ops.bsr_pack(pruned(out, inp, 0.5))


@pytest.mark.parametrize("mutate, error, match", [
    (lambda a: a.update(x=a["x"].double()), RuntimeError, "x must be torch.float32, got torch.float64"),
    (lambda a: a.update(x=torch.randn(3, 7)), RuntimeError, r"x must have in_features = 8 entries"),
    (lambda a: a.update(x=torch.tensor(1.0)), RuntimeError, "x must have at least 1 dimension"),
    (lambda a: a.update(values=a["values"].view(-1)), RuntimeError, "values must be 3-D"),
    (lambda a: a.update(values=a["values"].repeat(1, 1, 2)), RuntimeError,
     "block shape"),
    (lambda a: a.update(values=a["values"][1:]), RuntimeError, "col_idx must hold one entry per block"),
    (lambda a: a.update(col_idx=a["col_idx"].int()), RuntimeError, "col_idx must be torch.int16"),
    (lambda a: a.update(col_idx=a["col_idx"].fill_(8)), RuntimeError,
     r"col_idx holds a block column >= ceil\(in_features / block_cols\) = 8"),
    (lambda a: a.update(col_idx=a["col_idx"].fill_(-1)), RuntimeError, "col_idx holds a block column"),
    (lambda a: a.update(row_ptr=a["row_ptr"][:-1]), RuntimeError, r"row_ptr must have ceil\("),
    (lambda a: a["row_ptr"].__setitem__(2, 100), RuntimeError, "row_ptr must be non-decreasing"),
    (lambda a: a["row_ptr"].__setitem__(0, 1), RuntimeError, "row_ptr must start at 0"),
    (lambda a: a["row_ptr"].__setitem__(-1, a["row_ptr"][-1] + 1), RuntimeError,
     "row_ptr must end at the number of blocks"),
    (lambda a: a.update(row_ptr=torch.stack([a["row_ptr"]] * 2, 1)[:, 0]), RuntimeError,
     "row_ptr must be contiguous"),
    (lambda a: a.update(bias=torch.randn(5)), RuntimeError, r"bias must have 6 \(out_features\) entries"),
    (lambda a: a.update(bias=torch.randn(6).double()), RuntimeError, "bias must be torch.float32"),
    (lambda a: a.update(out_features=-1), RuntimeError, "out_features must be >= 0"),
    (lambda a: a.update(out_features=9), RuntimeError, r"row_ptr must have ceil\("),
    (lambda a: a.update(x=[1.0]), TypeError, "x must be a torch.Tensor"),
    (lambda a: a.update(bias=1.0), TypeError, "bias must be a torch.Tensor or None"),
    (lambda a: a.update(in_features=8.0), TypeError, "in_features must be an int"),
    (lambda a: a.update(x=a["x"].to_sparse()), ValueError, "x must be a dense"),
    (lambda a: a.update(x=a["x"].to("meta")), ValueError, "all tensors must be on one device"),
])
def test_bsr_linear_rejects(mutate, error, match):
    v, c, r = _csr()
    args = {"x": torch.randn(3, 8), "values": v, "col_idx": c, "row_ptr": r, "out_features": 6,
            "in_features": 8, "bias": None}
    mutate(args)
    with pytest.raises(error, match=match):
        sparse_ops.bsr_linear(**args)


@pytest.mark.parametrize("inp", [300, 1200])
@pytest.mark.parametrize("fmt", ["csr", "4x1", "1x4"])
def test_bsr_linear_rejects_out_of_range_columns_in_long_rows(isa, fmt, inp):
    # Rows long enough for the vectorised column checks of the batch-1 kernels; one
    # bad column in the vector part or in the tail of one row, the other rows valid.
    # CSR rows of 240 and 960 weights: both prefetch distances of the batch-1 kernel
    # (rows under / over 3 KB of values on average).
    out = 12
    r, c = BLOCKS[fmt]
    kb = -(-inp // c)
    w = pruned(out, inp, 0.2, BLOCKS[fmt])
    values, col_idx, row_ptr = sparse_ops.bsr_pack(w, (r, c))
    for batch in (1, 2, 5):
        x = torch.randn(batch, inp)
        close(sparse_ops.bsr_linear(x, values, col_idx, row_ptr, out, inp), ref_linear(x, w), inp)
    row = 1
    begin, end = int(row_ptr[row]), int(row_ptr[row + 1])
    assert end - begin >= 40
    for at, bad in ((begin + 3, kb), (end - 1, kb + 7), (begin + 20, 65535)):
        cols = col_idx.clone()
        cols[at] = bad if bad < 32768 else bad - 65536  # stored as int16, read as uint16
        for batch in (1, 2, 5):
            with pytest.raises(RuntimeError, match="col_idx holds a block column"):
                sparse_ops.bsr_linear(torch.randn(batch, inp), values, cols, row_ptr, out, inp)


def test_nm24_and_conv_reject():
    v, i = sparse_ops.nm24_pack(two_four(torch.randn(6, 10)))
    x = torch.randn(2, 10)
    with pytest.raises(RuntimeError, match=r"values must have shape \[out_features, ceil"):
        sparse_ops.nm24_linear(x, v, i, 13)
    with pytest.raises(RuntimeError, match="indices must be torch.uint8"):
        sparse_ops.nm24_linear(x, v, i.short(), 10)
    with pytest.raises(RuntimeError, match=r"indices must have shape"):
        sparse_ops.nm24_linear(x, v, i[:5], 10)
    v, c, r = sparse_ops.bsr_pack(pruned(4, 27, 0.5))
    img = torch.randn(1, 3, 5, 5)

    def conv(**kw):
        args = {"x": img, "values": v, "col_idx": c, "row_ptr": r, "weight_shape": (4, 3, 3, 3)}
        return sparse_ops.bsr_conv2d(**{**args, **kw})

    with pytest.raises(RuntimeError, match="smaller than the dilated kernel"):
        conv(dilation=3)
    with pytest.raises(RuntimeError, match="stride must be >= 1"):
        conv(stride=0)
    with pytest.raises(RuntimeError, match="padding must be >= 0"):
        conv(padding=(-1, 0))
    with pytest.raises(RuntimeError, match=r"dilation must be <= 2\^31"):
        conv(dilation=2**62)
    with pytest.raises(RuntimeError, match="x must have in_channels = 3"):
        conv(x=torch.randn(1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="x must be 4-D"):
        conv(x=torch.randn(3, 5))
    with pytest.raises(RuntimeError, match=r"row_ptr must have"):
        conv(weight_shape=(5, 3, 3, 3))
    with pytest.raises(RuntimeError, match="weight_shape must have out_channels >= 0"):
        conv(weight_shape=(4, 3, 0, 3))
    with pytest.raises(ValueError, match="weight_shape must be an int or a sequence of 4"):
        conv(weight_shape=(4, 3, 3))
    vn, ind = sparse_ops.nm24_pack(two_four(torch.randn(4, 27)))
    with pytest.raises(RuntimeError, match="values must have out_channels = 5 rows"):
        sparse_ops.nm24_conv2d(img, vn, ind, (5, 3, 3, 3))


# ---- opcheck -----------------------------------------------------------------------------

def test_opcheck_every_op():
    w = pruned(12, 10, 0.6)
    w24 = two_four(torch.randn(12, 10))
    x, bias = torch.randn(3, 10), torch.randn(12)
    torch.library.opcheck(OPS.sparse_bsr_pack.default, (w, 1, 1))
    torch.library.opcheck(OPS.sparse_bsr_pack.default, (w, 4, 1))
    torch.library.opcheck(OPS.sparse_nm24_pack.default, (w24,))
    for rc in [(1, 1), (4, 1), (1, 4)]:
        v, c, r = sparse_ops.bsr_pack(w, rc)
        torch.library.opcheck(OPS.sparse_bsr_linear.default, (x, v, c, r, 12, 10, bias, True))
        torch.library.opcheck(OPS.sparse_bsr_linear.default, (x[0], v, c, r, 12, 10, None, False))
    v, i = sparse_ops.nm24_pack(w24)
    torch.library.opcheck(OPS.sparse_nm24_linear.default, (x, v, i, 10, bias, False))
    img = torch.randn(2, 2, 6, 5)
    wc = pruned(12, 18, 0.5)
    v, c, r = sparse_ops.bsr_pack(wc)
    torch.library.opcheck(OPS.sparse_bsr_conv2d.default,
                          (img, v, c, r, [12, 2, 3, 3], bias, [1, 2], [1, 1], [1, 1], False, True))
    v, i = sparse_ops.nm24_pack(two_four(wc))
    torch.library.opcheck(OPS.sparse_nm24_conv2d.default,
                          (img[0], v, i, [12, 2, 3, 3], None, [2, 1], [0, 1], [1, 1], True, False))
