"""Thinning benchmarks (pytest-benchmark): the C++ channel gather against two chained
``index_select`` calls on ResNet-50-sized weights, and planning + thinning ResNet-50.

Not part of the default test run (``testpaths = ["tests"]``)::

    pytest benchmarks/thinning/test_bench_thinning.py                      # 1 thread
    COMPRESSOR_BENCH_THREADS=2 pytest benchmarks/thinning/test_bench_thinning.py
    pytest benchmarks/thinning/test_bench_thinning.py --benchmark-disable  # CI: functional, small

Every gather keeps a random (sorted) 70% of both axes, as thinning does. The speed-up
tests time both implementations interleaved (best of the rounds) and require ours to
be at least 1.5x faster; planning + thinning ResNet-50 must take under 2 s.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
import torchvision

from compressor.engine.thinning import plan_thinning, thin_model
from compressor.graph import find_groups, group_zero_masks
from compressor.models import build_model
from compressor.ops import gather_channels

KEEP = 0.7
MIN_SPEEDUP = 1.5
RESNET50_SECONDS = 2.0
# ResNet-50's largest 3x3 conv (layer4), its widest 1x1 conv, its classifier, and all of
# its conv and linear weights one after the other (~100 MB: more than the caches hold).
FULL_SHAPES = {"conv3x3": (512, 512, 3, 3), "conv1x1": (2048, 512, 1, 1), "fc": (1000, 2048)}
SMALL_SHAPES = {"conv3x3": (64, 32, 3, 3), "conv1x1": (128, 64, 1, 1), "fc": (100, 128)}
CASES = [*FULL_SHAPES, "all"]

Workload = list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def workload(case: str, small: bool) -> tuple[str, Workload]:
    """A label and the (weight, kept rows, kept columns) to gather."""
    gen = torch.Generator().manual_seed(0)
    if case == "all":
        model = (build_model("mnist_net", num_classes=10, in_channels=1, image_size=28) if small
                 else torchvision.models.resnet50(weights=None))
        weights = [p.detach() for p in model.parameters() if p.dim() >= 2]
        label = f"all {sum(w.numel() for w in weights) / 1e6:.1f}M conv/fc weights of " + (
            "mnist_net" if small else "resnet50")
    else:
        shape = (SMALL_SHAPES if small else FULL_SHAPES)[case]
        weights = [torch.randn(shape, generator=gen)]
        label = f"{case} {list(shape)}"
    work = [(w, *(torch.randperm(n, generator=gen)[:round(n * KEEP)].sort().values
                  for n in w.shape[:2])) for w in weights]
    return label, work


def ours(work: Workload) -> list[torch.Tensor]:
    return [gather_channels(w, out_idx, in_idx) for w, out_idx, in_idx in work]


def chained_index_select(work: Workload) -> list[torch.Tensor]:
    return [w.index_select(0, out_idx).index_select(1, in_idx) for w, out_idx, in_idx in work]


IMPLS = {"gather_channels": ours, "index_select": chained_index_select}


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("case", CASES)
def test_gather(benchmark, case: str, impl: str) -> None:
    label, work = workload(case, small=benchmark.disabled)
    benchmark.group = f"gather {label} fp32, keep {KEEP:.0%} of both axes"
    benchmark.extra_info["impl"] = impl
    result = benchmark.pedantic(IMPLS[impl], args=(work,), rounds=10 if case == "all" else 30,
                                warmup_rounds=1, iterations=1)
    assert same(result, chained_index_select(work))


@pytest.mark.parametrize("case", CASES)
def test_gather_speedup(request: pytest.FixtureRequest, case: str) -> None:
    small = bool(request.config.getoption("benchmark_disable"))
    label, work = workload(case, small)
    assert same(ours(work), chained_index_select(work))
    if small:
        return
    # Paired rounds (ours, then torch's, back to back) see the same machine load; the
    # median of the per-round ratios is robust to other processes sharing the cores.
    ratios, best = [], {name: float("inf") for name in IMPLS}
    for _ in range(9 if case == "all" else 41):
        seconds = {}
        for name, fn in IMPLS.items():
            start = time.perf_counter()
            fn(work)
            seconds[name] = time.perf_counter() - start
            best[name] = min(best[name], seconds[name])
        ratios.append(seconds["index_select"] / seconds["gather_channels"])
    speedup = statistics.median(ratios)
    assert speedup >= MIN_SPEEDUP, (
        f"gather_channels is only {speedup:.2f}x faster than chained index_select on {label} "
        f"(best {best['gather_channels'] * 1e3:.3f} ms vs {best['index_select'] * 1e3:.3f} ms)")


def test_plan_and_thin_resnet50(benchmark) -> None:
    arch, size = ("resnet18", 32) if benchmark.disabled else ("resnet50", 224)
    x = torch.randn(1, 3, size, size)
    benchmark.group = f"plan_thinning + thin_model, {arch}, 30% of every group pruned"

    def setup():
        model = getattr(torchvision.models, arch)(weights=None).eval()
        groups = find_groups(model, x)
        gen = torch.Generator().manual_seed(0)
        params = dict(model.named_parameters())
        with torch.no_grad():
            for group in groups:
                if group.prunable:
                    count = group.channels * 3 // 10
                    pruned = torch.randperm(group.channels, generator=gen)[:count]
                    for name, mask in group_zero_masks(model, group, pruned).items():
                        params[name].mul_(mask)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return (model, groups, optimizer), {}

    def plan_and_thin(model, groups, optimizer):
        thin_model(model, plan_thinning(model, groups), optimizer=optimizer)
        return model

    model = benchmark.pedantic(plan_and_thin, setup=setup, rounds=3, iterations=1)
    assert sum(p.numel() for p in model.parameters()) < 0.6 * sum(
        p.numel() for p in getattr(torchvision.models, arch)(weights=None).parameters())
    if not benchmark.disabled:
        assert benchmark.stats.stats.max < RESNET50_SECONDS
