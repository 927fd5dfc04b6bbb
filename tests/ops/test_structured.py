"""The C++ structured-pruning criteria against pure-PyTorch references
(compressor/ops/structured.py, csrc/ops/structured.cpp, csrc/ops/cpu/structured_kernel.cpp).
"""

from __future__ import annotations

import math

import pytest
import torch

from compressor.ops import structured as cops

OPS = torch.ops.compressor
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]
SHAPES = [(1,), (7,), (3, 5), (17, 31), (6, 4, 3, 3), (5, 3, 1, 2), (2, 3, 4, 5), (33, 2)]


def random_weight(shape, dtype, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


def score_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def as_matrix(w: torch.Tensor) -> torch.Tensor:
    """[rows, cols] view of the mask ops: rows = size(0); a 1-D w is one row."""
    if w.dim() == 1:
        return w.reshape(1, w.numel())
    return w.reshape(w.shape[0], math.prod(w.shape[1:]))


# ---- pure-PyTorch references (float64) -----------------------------------------------------

def ref_norms(w: torch.Tensor, dim: int, p: float) -> torch.Tensor:
    slices = w.double().movedim(dim, 0)
    rows = slices.reshape(slices.shape[0], math.prod(slices.shape[1:]))
    return rows.norm(p, dim=1)


def ref_fpgm(w: torch.Tensor) -> torch.Tensor:
    """Σ_j ||f_i − f_j|| from explicit differences (no Gram identity, unlike cdist's mm path)."""
    n = w.shape[0]
    f = w.double().reshape(n, math.prod(w.shape[1:]))
    return (f[:, None, :] - f[None, :, :]).norm(dim=2).sum(1)


def ref_nm(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    groups = w.abs().reshape(-1, m)
    # Stable descending sort: equal magnitudes keep their order, the lower index wins;
    # NaN sorts above +inf.
    order = torch.sort(groups, dim=1, descending=True, stable=True).indices
    keep = torch.zeros(groups.shape, dtype=torch.bool)
    keep.scatter_(1, order[:, :n], True)
    return keep.reshape(w.shape)


def ref_block(w: torch.Tensor, br: int, bc: int, sparsity: float) -> torch.Tensor:
    mat = as_matrix(w).double().abs()
    rows, cols = mat.shape
    scores = mat.reshape(rows // br, br, cols // bc, bc).sum((1, 3)).flatten()
    k = round(sparsity * scores.numel())
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.sort(scores, stable=True).indices[:k]] = False  # NaN sorts last
    grid = keep.reshape(rows // br, cols // bc)
    return grid.repeat_interleave(br, 0).repeat_interleave(bc, 1).reshape(w.shape)


def assert_scores(got: torch.Tensor, want: torch.Tensor, dtype: torch.dtype, rtol: float) -> None:
    assert got.dtype == score_dtype(dtype) and got.shape == want.shape
    torch.testing.assert_close(got.double(), want, rtol=rtol, atol=1e-12)


# ---- structure_norms -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_structure_norms_match_reference(shape, dtype):
    w = random_weight(shape, dtype, seed=sum(shape))
    for dim in range(-len(shape), len(shape)):
        for p in (1, 2):
            got = cops.structure_norms(w, dim, p)
            # The result is rounded once to float32 (float64 for float64 input).
            assert_scores(got, ref_norms(w, dim, p), dtype,
                          rtol=1e-12 if dtype == torch.float64 else 2e-7)


def test_structure_norms_1d_is_abs_and_defaults():
    w = torch.tensor([3.0, -4.0, 0.0, -0.5])
    assert torch.equal(cops.structure_norms(w, 0, 1), w.abs())
    assert torch.equal(cops.structure_norms(w, 0, 2), w.abs())
    conv = random_weight((8, 4, 3, 3), torch.float32, 0)
    assert torch.equal(cops.structure_norms(conv), OPS.structure_norms(conv, 0, 2.0))


def test_structure_norms_long_rows_and_many_channels():
    # Long slices (lane sums + tail) and many channels of inner size 1 (column sums).
    w = random_weight((3, 100_003), torch.float32, 1)
    assert_scores(cops.structure_norms(w, 0, 2), ref_norms(w, 0, 2), torch.float32, 2e-7)
    assert_scores(cops.structure_norms(w, 1, 1), ref_norms(w, 1, 1), torch.float32, 2e-7)


def test_structure_norms_accumulate_beyond_float32_range():
    # Squares of 1e30 overflow float32; float64 accumulation keeps the norm finite.
    w = torch.full((2, 4), 1e30)
    torch.testing.assert_close(cops.structure_norms(w, 0, 2), torch.full((2,), 2e30))


# ---- fpgm_scores ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES + [(40, 8, 3, 3)])
def test_fpgm_scores_match_reference(shape, dtype):
    w = random_weight(shape, dtype, seed=7 + sum(shape))
    assert_scores(cops.fpgm_scores(w), ref_fpgm(w), dtype,
                  rtol=1e-10 if dtype == torch.float64 else 2e-7)


def test_fpgm_scores_match_cdist():
    w = random_weight((24, 6, 3, 3), torch.float32, 3)
    f = w.double().flatten(1)
    torch.testing.assert_close(cops.fpgm_scores(w).double(), torch.cdist(f, f).sum(1), rtol=1e-6,
                               atol=0)


def test_fpgm_scores_near_identical_filters():
    # Filters that share a large common part and differ by 1e-6 plus one outlier: the
    # Gram identity without centring would cancel the small distances away.
    base = random_weight((1, 50), torch.float64, 4) * 100
    w = base + 1e-6 * random_weight((16, 50), torch.float64, 5)
    w[3] += 1.0
    want = ref_fpgm(w)
    torch.testing.assert_close(cops.fpgm_scores(w), want, rtol=1e-8, atol=0)
    assert torch.argmax(cops.fpgm_scores(w)).item() == 3
    # Identical filters are at distance 0 from each other.
    same = torch.ones(5, 3, 2, 2)
    assert torch.equal(cops.fpgm_scores(same), torch.zeros(5))


def test_fpgm_scores_rank_the_geometric_median_first():
    w = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [5.0, 5.0]])
    scores = cops.fpgm_scores(w)
    assert torch.argmin(scores).item() == 0
    assert torch.argmax(scores).item() == 5


def test_fpgm_scores_many_filters_in_gram_blocks():
    # Many filters: the Gram matrix is computed in blocks of rows (124 of 2101 here, and a
    # shorter last block).
    w = random_weight((2101,), torch.float64, 6)
    want = (w[:, None] - w[None, :]).abs().sum(1)
    torch.testing.assert_close(cops.fpgm_scores(w), want, rtol=1e-10, atol=0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_fpgm_scores_non_finite_weights_give_nan(bad):
    w = random_weight((4, 3), torch.float32, 8)
    w[1, 2] = bad
    assert torch.isnan(cops.fpgm_scores(w)).all()


# ---- nm_mask -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,n,m", [
    ((8,), 1, 2), ((4, 8), 2, 4), ((6, 4, 3, 3), 2, 4), ((5, 12), 3, 6), ((3, 16), 4, 8),
    ((7, 2, 1, 2), 1, 4), ((2, 64), 5, 32), ((3, 96), 17, 48), ((2, 200), 1, 100),
    ((2, 130), 30, 65),
    ((4, 6), 6, 6), ((9, 5), 1, 1),
])
def test_nm_mask_matches_reference(shape, n, m, dtype):
    w = random_weight(shape, dtype, seed=n * 100 + m)
    got = cops.nm_mask(w, n, m)
    assert got.dtype == torch.bool and got.shape == w.shape and got.is_contiguous()
    assert torch.equal(got, ref_nm(w, n, m))
    assert torch.equal(got.reshape(-1, m).sum(1), torch.full((w.numel() // m,), n))


@pytest.mark.parametrize("m", [4, 40, 80])  # rank: fixed m, run-time m; selection
@pytest.mark.parametrize("dtype", DTYPES)
def test_nm_mask_ties_keep_lower_index(dtype, m):
    g = torch.Generator().manual_seed(9)
    w = (torch.randint(-2, 3, (12, 2 * m), generator=g) * 0.5).to(dtype)  # 5 values, many ties
    for n in (1, m // 2, m - 1):
        assert torch.equal(cops.nm_mask(w, n, m), ref_nm(w, n, m))
    zeros = torch.zeros(3, m, dtype=dtype)
    zeros[1] = -0.0
    assert torch.equal(cops.nm_mask(zeros, 2, m)[:, :2], torch.ones(3, 2, dtype=torch.bool))
    assert not cops.nm_mask(zeros, 2, m)[:, 2:].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_nm_mask_nan_ranks_above_inf(dtype):
    w = torch.tensor([[1.0, -math.inf, math.nan, 0.5], [2.0, -3.0, 0.0, -0.0]], dtype=dtype)
    assert cops.nm_mask(w, 2, 4).tolist() == [[False, True, True, False],
                                              [True, True, False, False]]
    assert torch.equal(cops.nm_mask(w, 2, 4), ref_nm(w, 2, 4))


def test_nm_mask_groups_run_along_the_flattened_input_dims():
    w = torch.zeros(2, 2, 2, 2)
    w[0, 0, 1, 1] = 5.0  # flat column 3 of row 0: group 0
    w[1, 1, 0, 0] = -5.0  # flat column 4 of row 1: group 1
    mask = cops.nm_mask(w, 1, 4).reshape(2, 8)
    assert mask[0].tolist() == [False, False, False, True, True, False, False, False]
    assert mask[1].tolist() == [True, False, False, False, True, False, False, False]


# ---- block_mask ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,br,bc", [
    ((8, 8), 2, 2), ((6, 9), 3, 3), ((12, 4, 3, 3), 4, 9), ((10,), 1, 5), ((7, 5), 1, 1),
    ((16, 32), 16, 1), ((4, 6), 4, 6), ((30, 20), 5, 4),
])
def test_block_mask_matches_reference(shape, br, bc, dtype):
    w = random_weight(shape, dtype, seed=br * 10 + bc)
    blocks = w.numel() // (br * bc)
    for sparsity in (0.0, 0.1, 0.25, 0.5, 0.73, 0.999, 1.0):
        got = cops.block_mask(w, br, bc, sparsity)
        assert got.dtype == torch.bool and got.shape == w.shape and got.is_contiguous()
        assert torch.equal(got, ref_block(w, br, bc, sparsity))
        assert int((~got).sum()) == round(sparsity * blocks) * br * bc


@pytest.mark.parametrize("dtype", DTYPES)
def test_block_mask_ties_prune_lowest_block_index_first(dtype):
    g = torch.Generator().manual_seed(11)
    w = torch.randint(-1, 2, (12, 12), generator=g).to(dtype)  # integer L1 scores, many ties
    for sparsity in [i / 12 for i in range(13)]:
        assert torch.equal(cops.block_mask(w, 2, 3, sparsity), ref_block(w, 2, 3, sparsity))
    # All-zero weights: the first k blocks in row-major block order go.
    mask = cops.block_mask(torch.zeros(4, 6, dtype=dtype), 2, 2, 0.5)  # 2 x 3 blocks, k = 3
    assert mask[:2].logical_not().all() and mask[2:].all()


def test_block_mask_nan_blocks_go_last_and_k_rounds_half_to_even():
    w = torch.ones(2, 8)
    w[0, 0] = math.nan
    w[1, 6] = math.inf
    # 4 blocks of 2 x 2: scores nan, 4, 4, inf.
    assert cops.block_mask(w, 2, 2, 0.5)[0].tolist() == [True, True] + [False] * 4 + [True] * 2
    assert cops.block_mask(w, 2, 2, 0.75)[1].tolist() == [True, True] + [False] * 6
    assert torch.equal(cops.block_mask(w, 2, 2, 1.0), torch.zeros(2, 8, dtype=torch.bool))
    w = torch.arange(1.0, 11.0).reshape(10, 1)  # 10 blocks
    assert int((~cops.block_mask(w, 1, 1, 0.25)).sum()) == 2  # 2.5 -> 2
    assert int((~cops.block_mask(w, 1, 1, 0.35)).sum()) == 4  # 3.5 -> 4


# ---- shared: layouts, empties, threads -----------------------------------------------------

ALL_OPS = [
    ("structure_norms", lambda w: cops.structure_norms(w, 1, 1), lambda w: ref_norms(w, 1, 1)),
    ("fpgm_scores", cops.fpgm_scores, ref_fpgm),
    ("nm_mask", lambda w: cops.nm_mask(w, 2, 4), lambda w: ref_nm(w.contiguous(), 2, 4)),
    ("block_mask", lambda w: cops.block_mask(w, 2, 2, 0.5),
     lambda w: ref_block(w.contiguous(), 2, 2, 0.5)),
]


def check_op(name, fn, ref, w):
    got = fn(w)
    want = ref(w)
    if got.dtype == torch.bool:
        assert torch.equal(got, want), name
    else:
        torch.testing.assert_close(got.double(), want, rtol=2e-7, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,ref", ALL_OPS, ids=[op[0] for op in ALL_OPS])
def test_non_contiguous_inputs(name, fn, ref, dtype):
    base = random_weight((16, 24), dtype, seed=12)
    original = base.clone()
    views = [base.t(), base[::2, ::3], base.view(4, 4, 24).permute(1, 2, 0),
             base[:4, :8].unsqueeze(1).expand(4, 4, 8),
             base[:, :8].unsqueeze(0).expand(2, 16, 8)]
    for w in views:
        assert not w.is_contiguous()
        check_op(name, fn, ref, w)
    assert torch.equal(base, original)  # inputs are left as they were


def test_empty_tensors():
    for shape in [(0,), (0, 4), (0, 3, 3, 3), (4, 0), (3, 0, 2, 2)]:
        w = torch.empty(shape)
        for dim in range(len(shape)):
            got = cops.structure_norms(w, dim, 2)
            assert torch.equal(got, torch.zeros(shape[dim]))
        assert torch.equal(cops.fpgm_scores(w), torch.zeros(shape[0]))
        assert cops.nm_mask(w, 1, 1).shape == shape
        assert cops.block_mask(w, 1, 1, 0.5).shape == shape
    for shape in [(0,), (0, 4), (4, 0), (0, 2, 2)]:
        assert cops.nm_mask(torch.empty(shape), 2, 4).shape == shape
    # Divisibility is checked on empty tensors too: the error does not hide behind size 0.
    with pytest.raises(RuntimeError, match=r"m = 4 must divide cols = 27"):
        cops.nm_mask(torch.empty(0, 3, 3, 3), 2, 4)
    assert torch.equal(cops.fpgm_scores(torch.randn(1, 5)), torch.zeros(1))


def test_all_zero_weights():
    w = torch.zeros(8, 4, 3, 3, dtype=torch.float16)
    assert torch.equal(cops.structure_norms(w, 0, 2), torch.zeros(8))
    assert torch.equal(cops.fpgm_scores(w), torch.zeros(8))
    mask = cops.nm_mask(w, 2, 4).reshape(-1, 4)
    assert mask[:, :2].all() and not mask[:, 2:].any()
    assert int((~cops.block_mask(w, 2, 4, 0.5)).sum()) == w.numel() // 2


def test_results_do_not_depend_on_the_thread_count():
    w = random_weight((64, 32, 3, 3), torch.float32, 13)
    torch.set_num_threads(1)  # the conftest fixture restores it
    one = [cops.structure_norms(w, 1, 2), cops.structure_norms(w, 0, 1),
           cops.nm_mask(w, 2, 4), cops.block_mask(w, 4, 9, 0.6)]
    torch.set_num_threads(2)
    two = [cops.structure_norms(w, 1, 2), cops.structure_norms(w, 0, 1),
           cops.nm_mask(w, 2, 4), cops.block_mask(w, 4, 9, 0.6)]
    for a, b in zip(one, two):
        assert torch.equal(a, b)


# ---- opcheck, torch.compile, meta ----------------------------------------------------------

def _opcheck(op, args):
    result = torch.library.opcheck(op, args)
    assert set(result.values()) == {"SUCCESS"}, result


@pytest.mark.parametrize("op,args", [
    ("structure_norms", (torch.randn(6, 3, 2, 2), 1, 2.0)),
    ("structure_norms", (torch.randn(5, 7).t().half(), -1, 1.0)),
    ("structure_norms", (torch.randn(0, 4).double(), 0, 2.0)),
    ("fpgm_scores", (torch.randn(6, 3, 2, 2),)),
    ("fpgm_scores", (torch.randn(9).bfloat16(),)),
    ("fpgm_scores", (torch.randn(4, 6).double().t(),)),
    ("nm_mask", (torch.randn(4, 8), 2, 4)),
    ("nm_mask", (torch.randn(8, 6).t().half(), 1, 2)),
    ("nm_mask", (torch.randn(0, 4), 2, 4)),
    ("block_mask", (torch.randn(6, 8), 3, 2, 0.5)),
    ("block_mask", (torch.randn(4, 2, 3, 3).bfloat16(), 2, 9, 0.25)),
    ("block_mask", (torch.randn(8, 4).double().t(), 2, 2, 1.0)),
])
def test_opcheck(op, args):
    _opcheck(getattr(OPS, op).default, args)


def test_ops_trace_under_torch_compile():
    def criteria(w: torch.Tensor):
        return (OPS.structure_norms(w, 0, 2.0) + OPS.fpgm_scores(w),
                OPS.nm_mask(w, 2, 4) & OPS.block_mask(w, 2, 4, 0.5))

    w = torch.randn(8, 4, 2, 2)
    want = criteria(w)
    got = torch.compile(criteria, backend="aot_eager", fullgraph=True)(w)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_meta_tensors_use_the_fake_implementations():
    w = torch.empty(6, 4, 3, 3, device="meta", dtype=torch.float16)
    assert cops.structure_norms(w, 1, 1).shape == (4,)
    assert cops.structure_norms(w, 1, 1).dtype == torch.float32
    assert cops.fpgm_scores(w.double()).dtype == torch.float64
    assert cops.fpgm_scores(w).shape == (6,)
    assert cops.nm_mask(w, 2, 4).shape == w.shape
    assert cops.block_mask(w, 2, 4, 0.5).dtype == torch.bool


# ---- errors --------------------------------------------------------------------------------

CALLS = {
    "structure_norms": (lambda f, w: f(w, 0, 2.0), [OPS.structure_norms, cops.structure_norms]),
    "fpgm_scores": (lambda f, w: f(w), [OPS.fpgm_scores, cops.fpgm_scores]),
    "nm_mask": (lambda f, w: f(w, 2, 4), [OPS.nm_mask, cops.nm_mask]),
    "block_mask": (lambda f, w: f(w, 1, 1, 0.5), [OPS.block_mask, cops.block_mask]),
}


@pytest.mark.parametrize("op", sorted(CALLS))
def test_bad_dtype_and_0_dim(op):
    call, fns = CALLS[op]
    for fn in fns:
        for dtype in (torch.int32, torch.bool, torch.complex64):
            with pytest.raises(RuntimeError, match=rf"^compressor\.{op}: w must be torch\.float32, "
                                                   rf"torch\.float16, torch\.bfloat16 or "
                                                   rf"torch\.float64, got {dtype}"):
                call(fn, torch.zeros(4, 4, dtype=dtype))
        with pytest.raises(RuntimeError, match=rf"^compressor\.{op}: w must have at least one "
                                               r"dimension, got a 0-dim tensor"):
            call(fn, torch.tensor(1.0))


@pytest.mark.parametrize("fn", [OPS.structure_norms, cops.structure_norms])
def test_structure_norms_errors(fn):
    w = torch.randn(3, 4, 5)
    for dim in (3, -4, 100):
        with pytest.raises(RuntimeError, match=rf"^compressor\.structure_norms: dim must be in "
                                               rf"\[-3, 2\] for w of shape \[3, 4, 5\], got {dim}"):
            fn(w, dim, 2.0)
    for p in (0.0, 3.0, 1.5, math.inf, math.nan):
        with pytest.raises(RuntimeError, match=r"^compressor\.structure_norms: p must be 1 or 2, "
                                               r"got"):
            fn(w, 0, p)


@pytest.mark.parametrize("fn", [OPS.nm_mask, cops.nm_mask])
def test_nm_mask_errors(fn):
    w = torch.randn(3, 6)
    with pytest.raises(RuntimeError, match=r"^compressor\.nm_mask: m must be positive, got 0"):
        fn(w, 1, 0)
    for n in (0, -1, 5):
        with pytest.raises(RuntimeError, match=rf"^compressor\.nm_mask: n must satisfy 0 < n <= m "
                                               rf"\(m = 4\), got {n}"):
            fn(torch.randn(3, 8), n, 4)
    with pytest.raises(RuntimeError, match=r"^compressor\.nm_mask: m = 4 must divide cols = 6 of "
                                           r"w viewed as \[rows, cols\] = \[3, 6\] \(w has shape "
                                           r"\[3, 6\]\)"):
        fn(w, 2, 4)
    with pytest.raises(RuntimeError, match=r"cols = 27 of w viewed as \[rows, cols\] = \[8, 27\]"):
        fn(torch.randn(8, 3, 3, 3), 2, 4)
    with pytest.raises(RuntimeError, match=r"cols = 6 of w viewed as \[rows, cols\] = \[1, 6\]"):
        fn(torch.randn(6), 2, 4)


@pytest.mark.parametrize("fn", [OPS.block_mask, cops.block_mask])
def test_block_mask_errors(fn):
    w = torch.randn(6, 8)
    for br, bc, name in ((0, 2, "block_rows"), (2, -1, "block_cols")):
        with pytest.raises(RuntimeError, match=rf"^compressor\.block_mask: {name} must be "
                                               rf"positive, got {min(br, bc)}"):
            fn(w, br, bc, 0.5)
    for br, bc in ((4, 2), (2, 3)):
        with pytest.raises(RuntimeError, match=rf"^compressor\.block_mask: block_rows x "
                                               rf"block_cols = {br} x {bc} must divide w viewed "
                                               r"as \[rows, cols\] = \[6, 8\] \(w has shape "
                                               r"\[6, 8\]\)"):
            fn(w, br, bc, 0.5)
    for sparsity in (-0.01, 1.5, math.nan):
        with pytest.raises(RuntimeError, match=r"^compressor\.block_mask: sparsity must be in "
                                               r"\[0, 1\], got"):
            fn(w, 2, 2, sparsity)


def test_wrapper_type_errors():
    w = torch.randn(4, 4)
    with pytest.raises(TypeError, match=r"^compressor\.structure_norms: dim must be an int, got "
                                        r"float"):
        cops.structure_norms(w, 1.0, 2)
    with pytest.raises(TypeError, match=r"^compressor\.structure_norms: p must be 1 or 2, got str"):
        cops.structure_norms(w, 0, "fro")
    with pytest.raises(TypeError, match=r"^compressor\.fpgm_scores: w must be a torch\.Tensor, "
                                        r"got list"):
        cops.fpgm_scores([[1.0]])
    with pytest.raises(TypeError, match=r"^compressor\.nm_mask: n must be an int, got bool"):
        cops.nm_mask(w, True, 4)
    with pytest.raises(TypeError, match=r"^compressor\.nm_mask: m must be an int, got float"):
        cops.nm_mask(w, 2, 4.0)
    with pytest.raises(TypeError, match=r"^compressor\.block_mask: block_cols must be an int"):
        cops.block_mask(w, 2, None, 0.5)
    with pytest.raises(TypeError, match=r"^compressor\.block_mask: sparsity must be a real number"):
        cops.block_mask(w, 2, 2, "0.5")
    with pytest.raises(ValueError, match=r"^compressor\.nm_mask: w must be a dense \(strided\) "
                                         r"tensor"):
        cops.nm_mask(w.to_sparse(), 2, 4)
