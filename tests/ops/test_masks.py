"""The C++ mask ops against pure-PyTorch references (compressor/ops/masks.py, csrc/ops/)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from compressor import ops
from compressor.ops import _checks

OPS = torch.ops.compressor
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]
SPARSITIES = [0.0, 0.1, 0.5, 0.73, 0.999, 1.0]
SHAPES = [(0,), (1,), (), (7,), (3, 5), (17, 31), (2, 3, 4, 5), (8, 3, 3, 3), (1001,), (0, 4)]


# ---- pure-PyTorch references -------------------------------------------------------------

def ref_threshold(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """kthvalue of |w|; -inf when nothing is pruned."""
    k = round(sparsity * w.numel())
    if k == 0:
        return torch.tensor(-math.inf, dtype=w.dtype)
    return w.abs().flatten().kthvalue(k).values


def ref_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Prune the k smallest |w|, ties in increasing flat index (a stable sort)."""
    flat = w.abs().flatten()
    k = round(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[torch.sort(flat, stable=True).indices[:k]] = False
    return keep.view(w.shape)


def ref_global(ws: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    flat = torch.cat([w.flatten() for w in ws])
    keep = ref_mask(flat, sparsity)
    return [m.view(w.shape) for m, w in zip(keep.split([w.numel() for w in ws]), ws)]


def l1_unstructured_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    module = nn.Module()
    module.weight = nn.Parameter(w.clone())
    prune.l1_unstructured(module, "weight", amount=round(sparsity * w.numel()))
    return module.weight_mask.bool()


def global_unstructured_masks(ws: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    modules = []
    for w in ws:
        module = nn.Module()
        module.weight = nn.Parameter(w.clone())
        modules.append(module)
    k = round(sparsity * sum(w.numel() for w in ws))
    prune.global_unstructured([(m, "weight") for m in modules],
                              pruning_method=prune.L1Unstructured, amount=k)
    return [m.weight_mask.bool() for m in modules]


def random_weight(shape, dtype, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32).to(dtype)


def assert_threshold(w: torch.Tensor, sparsity: float) -> None:
    got = OPS.magnitude_threshold(w, sparsity)
    assert got.dtype == w.dtype and got.shape == ()
    torch.testing.assert_close(got, ref_threshold(w, sparsity), rtol=0, atol=0, equal_nan=True)
    want = ref_threshold(w, sparsity).item()
    assert ops.magnitude_threshold(w, sparsity) == want or (math.isnan(want) and math.isnan(
        ops.magnitude_threshold(w, sparsity)))


def assert_mask(w: torch.Tensor, sparsity: float) -> None:
    got = ops.magnitude_mask(w, sparsity)
    assert got.dtype == torch.bool and got.shape == w.shape and got.is_contiguous()
    torch.testing.assert_close(got, ref_mask(w, sparsity), rtol=0, atol=0)


# ---- magnitude_threshold / magnitude_mask -------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_threshold_and_mask_match_reference(shape, dtype):
    w = random_weight(shape, dtype, seed=len(shape) * 100 + sum(shape))
    for sparsity in SPARSITIES:
        assert_threshold(w, sparsity)
        assert_mask(w, sparsity)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs(dtype):
    base = random_weight((24, 37), dtype, seed=1)
    views = [base.t(), base[::2, 1::3], base[:, 5], base.view(4, 6, 37).permute(2, 0, 1),
             base.unsqueeze(0).expand(3, 24, 37)]
    for w in views:
        assert not w.is_contiguous()
        for sparsity in (0.3, 0.5, 0.999):
            assert_threshold(w, sparsity)
            assert_mask(w, sparsity)
    # Inputs are left as they were.
    assert torch.equal(base, random_weight((24, 37), dtype, seed=1))


def test_mask_matches_l1_unstructured_without_ties():
    for seed, shape in enumerate([(1,), (10,), (33, 17), (4, 3, 5, 5)]):
        w = random_weight(shape, torch.float32, seed)
        assert w.abs().unique().numel() == w.numel()
        for sparsity in SPARSITIES:
            assert torch.equal(ops.magnitude_mask(w, sparsity), l1_unstructured_mask(w, sparsity))


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_prune_exactly_k_lowest_indices_first(dtype):
    g = torch.Generator().manual_seed(3)
    w = (torch.randint(-3, 4, (41, 13), generator=g).to(dtype)) * 0.5  # 7 values, many ties
    for sparsity in [i / 20 for i in range(21)]:
        k = round(sparsity * w.numel())
        mask = ops.magnitude_mask(w, sparsity)
        assert int((~mask).sum()) == k
        assert torch.equal(mask, ref_mask(w, sparsity))
    # All equal: the first k flat indices go.
    w = torch.full((5, 6), -2.0, dtype=dtype)
    mask = ops.magnitude_mask(w, 0.5)
    assert torch.equal(mask.flatten(), torch.arange(30) >= 15)
    # +0.0 and -0.0 are the same magnitude.
    w = torch.tensor([0.0, -0.0, 1.0, -0.0, 0.0], dtype=dtype)
    assert torch.equal(ops.magnitude_mask(w, 0.4), torch.tensor([False, False, True, True, True]))


def test_k_rounds_half_to_even():
    w = torch.arange(1.0, 11.0)  # numel 10
    assert ops.magnitude_threshold(w, 0.25) == 2.0  # 2.5 -> 2
    assert ops.magnitude_threshold(w, 0.35) == 4.0  # 3.5 -> 4
    assert int((~ops.magnitude_mask(w, 0.25)).sum()) == 2
    assert int((~ops.magnitude_mask(w, 0.05)).sum()) == 0  # 0.5 -> 0


def test_k_zero_and_empty():
    w = torch.randn(3, 4)
    assert ops.magnitude_threshold(w, 0.0) == -math.inf
    assert ops.magnitude_threshold(torch.empty(0), 0.7) == -math.inf
    assert ops.magnitude_threshold(torch.empty(0, 3, dtype=torch.float16), 1.0) == -math.inf
    assert ops.magnitude_mask(w, 0.0).all()
    assert not ops.magnitude_mask(w, 1.0).any()
    assert ops.magnitude_mask(torch.empty(2, 0), 0.5).shape == (2, 0)
    assert ops.magnitude_threshold(w, 1.0) == w.abs().max().item()


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_ranks_above_inf(dtype):
    nan, inf = math.nan, math.inf
    w = torch.tensor([1.0, nan, -3.0, -inf, 2.0, -nan, 0.5], dtype=dtype)
    for sparsity in [i / 7 for i in range(8)]:
        assert_threshold(w, sparsity)
        assert_mask(w, sparsity)
    assert math.isnan(ops.magnitude_threshold(w, 1.0))
    assert ops.magnitude_threshold(w, 5 / 7) == inf
    # NaNs are the last to go.
    assert torch.equal(ops.magnitude_mask(w, 5 / 7), torch.isnan(w))


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_magnitudes(dtype):
    info = torch.finfo(dtype)
    values = [0.0, -0.0, info.tiny, -info.tiny / 4, info.tiny / 2, info.smallest_normal * 3,
              info.eps, -1.0, 1.0 + info.eps, -info.max, info.max / 2, math.inf, -math.inf,
              1e-3, -7.5]
    w = torch.tensor(values, dtype=dtype)
    assert torch.isfinite(w[:11]).all() and (w[3:5] != 0).all()  # subnormals survive
    for sparsity in [i / len(values) for i in range(len(values) + 1)]:
        assert_threshold(w, sparsity)
        assert_mask(w, sparsity)


def test_float16_values_exhaustive():
    # Every float16 bit pattern except NaNs, shuffled: each rank is a different value.
    bits = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16)
    w = bits.view(torch.float16)
    w = w[~torch.isnan(w)]
    w = w[torch.randperm(w.numel(), generator=torch.Generator().manual_seed(5))]
    for sparsity in (0.0, 0.01, 0.25, 0.5, 0.9, 0.99991, 1.0):
        assert_threshold(w, sparsity)
        assert_mask(w, sparsity)


def test_large_input_with_several_chunks():
    # ~1M entries and 3 threads: the kernels split the work into several chunks,
    # each with its own histogram and its share of the ties.
    torch.set_num_threads(3)  # restored by conftest
    g = torch.Generator().manual_seed(11)
    w = torch.randn(1_000_003, generator=g)
    w[::3] = 0.25  # one big tie group spread over every chunk
    for sparsity in (0.2, 0.4, 0.6):
        assert_threshold(w, sparsity)
        mask = ops.magnitude_mask(w, sparsity)
        assert torch.equal(mask, ref_mask(w, sparsity))
    ws = [w[:300_000].view(1000, 300), w[300_000:300_001], w[300_001:].half().float()]
    for got, want in zip(ops.global_magnitude_masks(ws, 0.45), ref_global(ws, 0.45)):
        assert torch.equal(got, want)


def test_results_do_not_depend_on_thread_count():
    w = (torch.randn(700_000) * 4).round()  # ties
    masks = []
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        masks.append(ops.magnitude_mask(w, 0.37))
    assert torch.equal(masks[0], masks[1]) and torch.equal(masks[0], masks[2])


# ---- global_magnitude_masks ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_global_masks_match_reference(dtype):
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        shapes = [tuple(torch.randint(0, 9, (int(torch.randint(1, 4, (1,), generator=g)),),
                                      generator=g).tolist()) for _ in range(5)]
        ws = [random_weight(s, dtype, seed * 10 + i) * (i + 1) for i, s in enumerate(shapes)]
        ws[1] = ws[1].t() if ws[1].dim() == 2 else ws[1]
        for sparsity in SPARSITIES:
            got = ops.global_magnitude_masks(ws, sparsity)
            want = ref_global(ws, sparsity)
            assert len(got) == len(ws)
            for m, r, w in zip(got, want, ws):
                assert m.dtype == torch.bool and m.shape == w.shape
                assert torch.equal(m, r)


def test_global_masks_match_global_unstructured_without_ties():
    ws = [random_weight((16, 8), torch.float32, 1) * 3, random_weight((40,), torch.float32, 2),
          random_weight((4, 2, 3, 3), torch.float32, 3) * 0.1]
    assert torch.cat([w.flatten() for w in ws]).abs().unique().numel() == sum(
        w.numel() for w in ws)
    for sparsity in SPARSITIES:
        for got, want in zip(ops.global_magnitude_masks(ws, sparsity),
                             global_unstructured_masks(ws, sparsity)):
            assert torch.equal(got, want)


def test_global_ties_lowest_tensor_then_flat_index_first():
    ws = [torch.ones(3), torch.full((2, 2), -1.0), torch.ones(2)]
    got = ops.global_magnitude_masks(ws, 5 / 9)  # k = 5
    assert [m.flatten().tolist() for m in got] == [
        [False, False, False], [False, False, True, True], [True, True]]


def test_global_edge_cases():
    assert ops.global_magnitude_masks([], 0.5) == []
    assert ops.global_magnitude_masks((torch.empty(0),), 0.5)[0].shape == (0,)
    ws = [torch.randn(3), torch.empty(0, 2), torch.randn(2, 2)]
    assert [m.all().item() for m in ops.global_magnitude_masks(ws, 0.0)] == [True] * 3
    assert [m.any().item() for m in ops.global_magnitude_masks(ws, 1.0)] == [False] * 3
    # A single tensor: the same as magnitude_mask.
    w = torch.randn(9, 9)
    assert torch.equal(ops.global_magnitude_masks([w], 0.6)[0], ops.magnitude_mask(w, 0.6))


# ---- apply_mask_ ---------------------------------------------------------------------------

def random_mask(shape, keep: float, seed: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < keep


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (), (1,), (7,), (9, 13), (3, 64), (2, 5, 67), (4097,)])
def test_apply_mask_matches_masked_fill(shape, dtype):
    for seed, keep in enumerate((0.0, 0.1, 0.5, 0.97, 1.0)):
        w = random_weight(shape, dtype, seed)
        mask = random_mask(shape, keep, seed)
        want = w.masked_fill(~mask, 0)
        assert ops.apply_mask_(w, mask) is None
        assert torch.equal(w, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_apply_mask_in_place_on_non_contiguous(dtype):
    base = random_weight((30, 40), dtype, 2)
    storage = base.clone()
    cases = [
        (lambda t: t.t(), random_mask((40, 30), 0.5, 1)),                 # permuted, dense
        (lambda t: t[::2, 1::3], random_mask((15, 13), 0.5, 2)),          # gaps
        (lambda t: t[:, 7], random_mask((30,), 0.3, 3)),                  # strided column
        (lambda t: t.view(5, 6, 40).permute(2, 0, 1), random_mask((40, 5, 6), 0.6, 4)),
    ]
    for view, mask in cases:
        for mask_layout in (mask, mask.t().contiguous().t() if mask.dim() == 2 else mask):
            w = storage.clone()
            want = w.clone()
            view(want).masked_fill_(~mask_layout, 0)
            ops.apply_mask_(view(w), mask_layout)
            assert torch.equal(w, want)  # the caller's storage changed, nothing else did


def test_apply_mask_zeroes_nan_and_inf_and_negative_zero_is_kept():
    w = torch.tensor([math.nan, math.inf, -math.inf, -0.0, -1.0, 2.0])
    mask = torch.tensor([False, False, True, True, False, True])
    ops.apply_mask_(w, mask)
    assert w.tolist()[1:] == [0.0, -math.inf, -0.0, 0.0, 2.0] and w[0].item() == 0.0
    assert math.copysign(1.0, w[4].item()) == 1.0  # +0.0, as masked_fill
    assert math.copysign(1.0, w[3].item()) == -1.0  # kept entries are untouched


def test_apply_mask_is_idempotent_and_keeps_dense_blocks():
    w = torch.randn(10_000)
    mask = random_mask((10_000,), 0.5, 0)
    mask[:640] = True
    original = w.clone()
    ops.apply_mask_(w, mask)
    once = w.clone()
    ops.apply_mask_(w, mask)
    assert torch.equal(w, once)
    assert torch.equal(w[:640], original[:640])


def test_apply_mask_after_optimizer_step_keeps_pruned_at_zero():
    model = nn.Linear(64, 32)
    mask = ops.magnitude_mask(model.weight, 0.8)
    ops.apply_mask_(model.weight, mask)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for _ in range(3):
        model(torch.randn(8, 64)).square().mean().backward()
        opt.step()
        opt.zero_grad()
        ops.apply_mask_(model.weight, mask)
    assert int((model.weight == 0).sum()) >= round(0.8 * model.weight.numel())
    assert torch.equal(model.weight != 0, mask & (model.weight != 0))


# ---- opcheck -------------------------------------------------------------------------------

def _opcheck(op, args):
    result = torch.library.opcheck(op, args)
    assert set(result.values()) == {"SUCCESS"}, result


@pytest.mark.parametrize("args", [
    (torch.randn(5, 7), 0.5),
    (torch.randn(6, 4).t(), 0.25),
    (torch.randn(0), 0.5),
    (torch.randn(11).half(), 1.0),
    (torch.randn(3, 3).bfloat16(), 0.0),
], ids=["fp32", "transposed", "empty", "fp16-all", "bf16-none"])
def test_opcheck_single_tensor_ops(args):
    _opcheck(OPS.magnitude_threshold.default, args)
    _opcheck(OPS.magnitude_mask.default, args)


@pytest.mark.parametrize("args", [
    ([torch.randn(5, 7), torch.randn(3)], 0.4),
    ([torch.randn(4, 4).t().half(), torch.randn(2, 1, 3).half()], 0.9),
    ([torch.empty(0, 3), torch.randn(2)], 0.5),
], ids=["fp32", "fp16", "with-empty"])
def test_opcheck_global_masks(args):
    _opcheck(OPS.global_magnitude_masks.default, args)


@pytest.mark.parametrize("args", [
    (torch.randn(5, 7), torch.rand(5, 7) < 0.5),
    (torch.randn(6, 4).t(), torch.rand(4, 6) < 0.5),
    (torch.randn(8, 9)[::2, ::3].bfloat16(), torch.rand(4, 3) < 0.2),
], ids=["fp32", "transposed", "strided-bf16"])
def test_opcheck_apply_mask(args):
    _opcheck(OPS.apply_mask_.default, args)


def test_wrappers_trace_under_torch_compile():
    def prune_step(w: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        ops.apply_mask_(w, ops.magnitude_mask(w, 0.5))
        return w * 2, ops.global_magnitude_masks([w, w.t() * 3], 0.7)

    w = torch.randn(8, 8)
    want = prune_step(w.clone())
    got = torch.compile(prune_step, backend="aot_eager", fullgraph=True)(w.clone())
    assert torch.equal(got[0], want[0])
    assert all(torch.equal(g, m) for g, m in zip(got[1], want[1]))


def test_meta_tensors_use_the_fake_implementations():
    w = torch.empty(3, 4, device="meta", dtype=torch.float16)
    assert ops.magnitude_mask(w, 0.5).shape == (3, 4)
    assert OPS.magnitude_threshold(w, 0.5).dtype == torch.float16
    assert [m.shape for m in ops.global_magnitude_masks([w, w[0]], 0.5)] == [(3, 4), (4,)]
    ops.apply_mask_(w, torch.empty(3, 4, device="meta", dtype=torch.bool))


# ---- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [OPS.magnitude_threshold, OPS.magnitude_mask,
                                ops.magnitude_threshold, ops.magnitude_mask])
def test_bad_dtype_and_sparsity(fn):
    for dtype in (torch.int32, torch.bool, torch.complex64):
        with pytest.raises(RuntimeError, match=r": w must be torch\.float32, torch\.float16, "
                                               rf"torch\.bfloat16 or torch\.float64, got {dtype}"):
            fn(torch.zeros(3, dtype=dtype), 0.5)
    for sparsity in (-0.01, 1.5, math.nan, math.inf):
        with pytest.raises(RuntimeError, match=r"compressor\.magnitude_\w+: sparsity must be in "
                                               r"\[0, 1\], got"):
            fn(torch.randn(3), sparsity)


def test_bad_dtype_is_reported_even_for_empty_or_sparsity_zero():
    with pytest.raises(RuntimeError, match="w must be torch.float32"):
        ops.magnitude_mask(torch.empty(0, dtype=torch.int64), 0.0)
    with pytest.raises(RuntimeError, match="sparsity must be in"):
        ops.magnitude_threshold(torch.empty(0), -1.0)


def test_wrapper_type_errors():
    for bad in ("0.5", None, torch.tensor(0.5), True):
        with pytest.raises(TypeError, match=r"compressor\.magnitude_mask: sparsity must be a real "
                                            r"number in \[0, 1\], got"):
            ops.magnitude_mask(torch.randn(3), bad)
    with pytest.raises(TypeError, match=r"compressor\.magnitude_threshold: w must be a "
                                        r"torch\.Tensor, got list"):
        ops.magnitude_threshold([1.0, 2.0], 0.5)
    with pytest.raises(TypeError, match=r"ws must be a sequence of tensors, got Tensor"):
        ops.global_magnitude_masks(torch.randn(3), 0.5)
    with pytest.raises(TypeError, match=r"ws\[1\] must be a torch\.Tensor, got int"):
        ops.global_magnitude_masks([torch.randn(3), 3], 0.5)
    with pytest.raises(TypeError, match=r"apply_mask_: mask must be a torch\.Tensor, got list"):
        ops.apply_mask_(torch.randn(2), [True, False])
    with pytest.raises(ValueError, match=r"w must be a dense \(strided\) tensor, got layout "
                                         r"torch\.sparse_coo"):
        ops.magnitude_mask(torch.randn(3, 3).to_sparse(), 0.5)


def test_global_errors():
    ws = [torch.randn(3), torch.randn(2, 2).half()]
    for fn in (OPS.global_magnitude_masks, ops.global_magnitude_masks):
        with pytest.raises(RuntimeError, match=r"compressor\.global_magnitude_masks: all tensors "
                                               r"in ws must share one dtype, ws\[0\] is "
                                               r"torch\.float32 but ws\[1\] is torch\.float16"):
            fn(ws, 0.5)
        with pytest.raises(RuntimeError, match=r"ws\[1\] must be torch\.float32, .* got "
                                               r"torch\.int64"):
            fn([torch.randn(3), torch.arange(3)], 0.5)
        with pytest.raises(RuntimeError, match=r"global_magnitude_masks: sparsity must be in "
                                               r"\[0, 1\], got 2"):
            fn([torch.randn(3)], 2.0)
    with pytest.raises(ValueError, match=r"all tensors in ws must be on one device"):
        ops.global_magnitude_masks([torch.randn(3), torch.empty(3, device="meta")], 0.5)


@pytest.mark.parametrize("fn", [OPS.apply_mask_, ops.apply_mask_])
def test_apply_mask_errors(fn):
    w = torch.randn(3, 4)
    before = w.clone()
    with pytest.raises(RuntimeError, match=r"compressor\.apply_mask_: mask must have the same "
                                           r"shape as w \(\[3, 4\]\), got \[4, 3\]"):
        fn(w, torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(RuntimeError, match=r"shape as w \(\[3, 4\]\), got \[4\]"):
        fn(w, torch.ones(4, dtype=torch.bool))  # no broadcasting
    with pytest.raises(RuntimeError, match=r"compressor\.apply_mask_: mask must be torch\.bool, "
                                           r"got torch\.uint8"):
        fn(w, torch.ones(3, 4, dtype=torch.uint8))
    with pytest.raises(RuntimeError, match=r"mask must be torch\.bool, got torch\.float32"):
        fn(w, torch.ones(3, 4))
    with pytest.raises(RuntimeError, match=r"compressor\.apply_mask_: w must be torch\.float32, "
                                           r".* got torch\.int32"):
        fn(torch.ones(3, 4, dtype=torch.int32), torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(RuntimeError, match=r"compressor\.apply_mask_: w has elements that share "
                                           r"memory"):
        fn(torch.randn(4, 1).expand(4, 3), torch.zeros(4, 3, dtype=torch.bool))
    assert torch.equal(w, before)


def test_apply_mask_device_mismatch():
    with pytest.raises(ValueError, match=r"compressor\.apply_mask_: mask must be on w's device "
                                         r"\(cpu\), got meta"):
        ops.apply_mask_(torch.randn(3), torch.empty(3, dtype=torch.bool, device="meta"))


def test_device_without_kernel(monkeypatch):
    # No GPU here: pretend the CPU has no kernel. The mask ops then run their torch
    # implementations; an op without one (the sparse kernels) says there is no kernel.
    w = torch.randn(64)
    want = ops.magnitude_mask(w, 0.5)
    monkeypatch.setitem(_checks.KERNEL_DEVICES, "magnitude_mask", frozenset({"meta"}))
    monkeypatch.setattr(ops.masks, "_OPS", None)  # any C++ call would fail
    assert torch.equal(ops.magnitude_mask(w, 0.5), want)
    monkeypatch.setitem(_checks.KERNEL_DEVICES, "sparse_bsr_pack", frozenset({"meta"}))
    with pytest.raises(ValueError, match=r"compressor\.sparse_bsr_pack: weight is on cpu, but "
                                         r"compressor has no kernel for that device \(built "
                                         r"with(out)? CUDA\); move it to the CPU"):
        ops.bsr_pack(torch.randn(4, 4), (1, 1))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensor_without_cuda_kernels():
    if torch._C._dispatch_has_kernel_for_dispatch_key("compressor::sparse_bsr_pack", "CUDA"):
        pytest.skip("built with a CUDA kernel")
    with pytest.raises(ValueError, match=r"compressor\.sparse_bsr_pack: weight is on cuda:0, but "
                                         r"compressor has no kernel for that device"):
        ops.bsr_pack(torch.randn(4, 4, device="cuda"), (1, 1))
