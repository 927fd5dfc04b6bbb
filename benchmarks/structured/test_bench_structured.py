"""Structured-pruning criteria vs their torch equivalents (pytest-benchmark).

Not part of the default test run (``testpaths = ["tests"]``)::

    pytest benchmarks/structured                      # 1 thread
    COMPRESSOR_BENCH_THREADS=2 pytest benchmarks/structured
    pytest benchmarks/structured --benchmark-disable  # CI: small shapes

Each group puts ours and torch's side by side on the same weights; every timed
result is checked against the float64 reference. ``fpgm_scores`` works in float64,
so its torch counterparts are ``cdist`` in float32 (faster, cancels on near-equal
filters) and in float64 (the same precision).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from compressor.ops import structured as cops

from ..common import bench_threads

# name -> (full shape, small shape)
SHAPES = {
    "conv": ((512, 256, 3, 3), (32, 16, 3, 3)),
    "linear": ((4096, 4096), (256, 128)),
}


def weights(kind: str, small: bool) -> torch.Tensor:
    shape = SHAPES[kind][1 if small else 0]
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


def torch_norms(w: torch.Tensor, dim: int, p: float) -> torch.Tensor:
    return w.transpose(0, dim).flatten(1).norm(p, dim=1)


def torch_fpgm(w: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    f = w.flatten(1).to(dtype)
    return torch.cdist(f, f).sum(1)


def torch_nm(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    groups = w.abs().reshape(-1, m)
    keep = torch.zeros(groups.shape, dtype=torch.bool)
    keep.scatter_(1, groups.topk(n, dim=1).indices, True)
    return keep.reshape(w.shape)


def torch_block(w: torch.Tensor, br: int, bc: int, sparsity: float) -> torch.Tensor:
    rows, cols = w.shape[0], math.prod(w.shape[1:])
    scores = w.abs().reshape(rows // br, br, cols // bc, bc).sum((1, 3)).flatten()
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.sort(scores, stable=True).indices[:round(sparsity * scores.numel())]] = False
    grid = keep.reshape(rows // br, cols // bc)
    return grid.repeat_interleave(br, 0).repeat_interleave(bc, 1).reshape(w.shape)


# group -> (weights, {impl: fn}, check(result, w))
def _scores_check(ref: Callable[[torch.Tensor], torch.Tensor], rtol: float):
    def check(got: torch.Tensor, w: torch.Tensor) -> None:
        torch.testing.assert_close(got.double(), ref(w.double()), rtol=rtol, atol=1e-6)
    return check


def _mask_check(ref: Callable[[torch.Tensor], torch.Tensor]):
    def check(got: torch.Tensor, w: torch.Tensor) -> None:
        assert torch.equal(got, ref(w))
    return check


def _block_check(br: int, bc: int, sparsity: float):
    # float32 block sums (torch's) may swap two blocks whose float64 sums nearly tie.
    def check(got: torch.Tensor, w: torch.Tensor) -> None:
        want = torch_block(w.double(), br, bc, sparsity)
        assert int((~got).sum()) == int((~want).sum())
        assert int((got != want).sum()) <= 2 * br * bc
    return check


CASES = {
    "structure_norms conv dim=1 p=2": (
        "conv", {"ours": lambda w: cops.structure_norms(w, 1, 2),
                 "torch": lambda w: torch_norms(w, 1, 2)},
        _scores_check(lambda w: torch_norms(w, 1, 2), 1e-5)),
    "structure_norms linear dim=1 p=1": (
        "linear", {"ours": lambda w: cops.structure_norms(w, 1, 1),
                   "torch": lambda w: torch_norms(w, 1, 1)},
        _scores_check(lambda w: torch_norms(w, 1, 1), 1e-5)),
    "fpgm_scores conv": (
        "conv", {"ours": cops.fpgm_scores,
                 "torch-cdist-fp32": lambda w: torch_fpgm(w, torch.float32),
                 "torch-cdist-fp64": lambda w: torch_fpgm(w, torch.float64)},
        _scores_check(lambda w: torch_fpgm(w, torch.float64), 1e-4)),
    "nm_mask linear 2:4": (
        "linear", {"ours": lambda w: cops.nm_mask(w, 2, 4), "torch": lambda w: torch_nm(w, 2, 4)},
        _mask_check(lambda w: torch_nm(w, 2, 4))),
    "block_mask linear 4x4 0.5": (
        "linear", {"ours": lambda w: cops.block_mask(w, 4, 4, 0.5),
                   "torch": lambda w: torch_block(w, 4, 4, 0.5)},
        _block_check(4, 4, 0.5)),
}

PARAMS = [(group, impl) for group, (_, impls, _) in CASES.items() for impl in impls]


@pytest.mark.parametrize("group,impl", PARAMS, ids=[f"{g}-{i}" for g, i in PARAMS])
def test_structured_op(benchmark, group: str, impl: str) -> None:
    kind, impls, check = CASES[group]
    w = weights(kind, small=benchmark.disabled)
    threads = bench_threads()
    benchmark.group = (f"{group}: {list(w.shape)} fp32, "
                       f"{threads} thread{'s' if threads > 1 else ''}")
    benchmark.extra_info["impl"] = impl
    result = benchmark.pedantic(impls[impl], args=(w,), rounds=5, warmup_rounds=1, iterations=1)
    check(result, w)
