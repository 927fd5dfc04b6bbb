"""Workloads of the mask-op benchmarks: ours and torch's equivalent, side by side.

Shared by ``test_bench_masks.py`` (pytest-benchmark) and ``ratios.py`` (a markdown
table of speed-ups). Every case has a setup that builds fresh arguments for each
round (untimed, so in-place ops always start from the unmasked weights), the call
that is timed, and a check of its result against an independent reference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from compressor import ops

SPARSITY = 0.5
FULL_SIZE = 100_000_000


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


class Workload:
    """fp32 weights ~ N(0, 1) and what the cases need from them, built on first use."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.k = round(SPARSITY * n)

    @functools.cached_property
    def w(self) -> torch.Tensor:
        return torch.randn(self.n, generator=torch.Generator().manual_seed(0))

    @functools.cached_property
    def threshold(self) -> float:
        return ops.magnitude_threshold(self.w, SPARSITY)

    @functools.cached_property
    def mask(self) -> torch.Tensor:
        return ops.magnitude_mask(self.w, SPARSITY)

    @functools.cached_property
    def masked(self) -> torch.Tensor:
        return self.w.masked_fill(~self.mask, 0)

    @functools.cached_property
    def masked_above_threshold(self) -> torch.Tensor:
        # |w| > t also prunes any ties of the k-th value (a few at 100M).
        return self.w.masked_fill(self.w.abs() <= self.threshold, 0)

    def check_threshold(self, result: torch.Tensor | float) -> None:
        # t is the k-th smallest |w| iff #(|w| < t) < k <= #(|w| <= t).
        t = float(result)
        a = self.w.abs()
        below, at_or_below = int((a < t).sum()), int((a <= t).sum())
        assert below < self.k <= at_or_below, (t, below, self.k, at_or_below)


    def check_mask(self, keep: torch.Tensor) -> None:
        # Exactly k pruned, none larger than a kept one.
        a = self.w.abs()
        assert int((~keep).sum()) == self.k
        assert a[~keep].max() <= a[keep].min()


def _topk_mask(w: torch.Tensor, k: int) -> torch.Tensor:
    # What torch.nn.utils.prune.l1_unstructured computes (as bool, without the module).
    keep = torch.ones_like(w, dtype=torch.bool)
    keep.view(-1)[torch.topk(w.abs().view(-1), k, largest=False).indices] = False
    return keep


@functools.lru_cache(maxsize=1)
def workload(n: int) -> Workload:
    return Workload(n)


@dataclass(frozen=True)
class Case:
    group: str  # cases of a group compute the same thing
    impl: str  # "compressor" or the torch expression
    setup: Callable[[], tuple]  # fresh arguments for one round
    run: Callable[..., Any]  # the timed call; returns what `check` checks
    check: Callable[[Any], None]
    rounds: int  # rounds to time (torch.kthvalue takes seconds)


def _apply_ours(w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    ops.apply_mask_(w, mask)
    return w


def _equal_to(expected: Callable[[], torch.Tensor]) -> Callable[[torch.Tensor], None]:
    def check(result: torch.Tensor) -> None:
        assert torch.equal(result, expected())

    return check


def cases(n: int) -> dict[str, Case]:
    """The cases on ``n`` fp32 weights, by id ``group/impl-tag``."""
    wl = workload(n)
    return {
        "threshold/compressor": Case(
            "threshold", "compressor.ops.magnitude_threshold(w, s)",
            lambda: ((wl.w, SPARSITY), {}), ops.magnitude_threshold, wl.check_threshold,
            rounds=5),
        "threshold/kthvalue": Case(
            "threshold", "torch.kthvalue(a, k), a = w.abs() precomputed",
            lambda: ((wl.w.abs(), wl.k), {}), lambda a, k: torch.kthvalue(a, k).values,
            wl.check_threshold, rounds=3),
        "threshold/abs-kthvalue": Case(
            "threshold", "w.abs().kthvalue(k)", lambda: ((wl.w, wl.k), {}),
            lambda w, k: w.abs().kthvalue(k).values, wl.check_threshold, rounds=3),
        "mask/compressor": Case(
            "mask", "compressor.ops.magnitude_mask(w, s)", lambda: ((wl.w, SPARSITY), {}),
            ops.magnitude_mask, wl.check_mask, rounds=5),
        "mask/topk": Case(
            "mask", "l1_unstructured's topk(w.abs(), k, largest=False)",
            lambda: ((wl.w, wl.k), {}), _topk_mask, wl.check_mask, rounds=3),
        "apply/compressor": Case(
            "apply", "compressor.ops.apply_mask_(w, mask)", lambda: ((wl.w.clone(), wl.mask), {}),
            _apply_ours, _equal_to(lambda: wl.masked), rounds=5),
        "apply/mul-abs-gt": Case(
            "apply", "w.mul_(w.abs() > t)", lambda: ((wl.w.clone(), wl.threshold), {}),
            lambda w, t: w.mul_(w.abs() > t), _equal_to(lambda: wl.masked_above_threshold),
            rounds=5),
        "apply/mul-mask": Case(
            "apply", "w.mul_(mask)", lambda: ((wl.w.clone(), wl.mask), {}),
            lambda w, mask: w.mul_(mask), _equal_to(lambda: wl.masked), rounds=5),
    }


CASE_IDS = list(cases(0))
