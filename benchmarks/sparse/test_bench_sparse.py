"""Sparse kernels vs torch dense and torch.sparse CSR (pytest-benchmark).

Not part of the default test run (``testpaths = ["tests"]``)::

    pytest benchmarks/sparse                      # 1 thread
    COMPRESSOR_BENCH_THREADS=2 pytest benchmarks/sparse
    pytest benchmarks/sparse --benchmark-disable  # CI: functional, small sizes

Each group puts ``compressor`` (our packed kernel), ``torch dense`` (F.linear /
F.conv2d on the masked weight) and ``torch CSR`` (torch.sparse CSR matmul) side by
side: Linear 4096x4096 and 1024x4096 at 50-95% unstructured sparsity and batch
1/16/64/256, the 2:4 / 4x1 / 1x4 formats (the block groups also time our CSR on an
unstructured weight of the same sparsity), and ResNet-18's convolutions. Every
timed result is checked. ``test_resnet18_90`` times a whole ResNet-18 (224x224,
batch 1, 90% unstructured sparsity) dense against ``compressor.sparse.convert``'s
model, at full size also under ``--benchmark-disable`` (where it only checks that
the outputs match); ``python -m benchmarks.sparse.resnet`` prints the ratio.
``test_convert_resnet50`` times ``convert`` itself on a pruned ResNet-50.
``python -m benchmarks.sparse.ratios`` prints the ratios. The thread count comes from
conftest.py (COMPRESSOR_BENCH_THREADS, default 1).
"""

from __future__ import annotations

import functools

import pytest
import torch

from ..common import bench_threads
from .cases import IMPLS, Spec, cases, conv_specs, impls, linear_specs
from .resnet import IMAGE, SPARSITY, pruned_model, resnet_pair


def _run(benchmark, spec: Spec, impl: str) -> None:
    spec = spec.scaled() if benchmark.disabled else spec
    case = cases(spec)[impl]
    threads = bench_threads()
    benchmark.group = f"{spec.group}, {threads} thread{'s' if threads > 1 else ''}"
    benchmark.extra_info["impl"] = impl
    result = benchmark.pedantic(case.run, rounds=5, warmup_rounds=1, iterations=1)
    case.check(result)


LINEAR = [(spec, impl) for spec in linear_specs() for impl in impls(spec)]


@pytest.mark.parametrize("spec, impl", LINEAR,
                         ids=[f"{s.group}-{i}".replace(" ", "-") for s, i in LINEAR])
def test_linear(benchmark, spec: Spec, impl: str) -> None:
    _run(benchmark, spec, impl)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("spec", conv_specs(), ids=lambda s: s.group.replace(" ", "-"))
def test_resnet18_conv(benchmark, spec: Spec, impl: str) -> None:
    _run(benchmark, spec, impl)


@functools.lru_cache(maxsize=1)
def _resnet(threads: int):
    dense, converted, x = resnet_pair()  # per-layer choices timed at this thread count
    with torch.no_grad():
        expected = dense(x)
    return {"torch dense": dense, "compressor converted": converted}, x, expected


@pytest.mark.parametrize("impl", ["torch dense", "compressor converted"])
def test_resnet18_90(benchmark, impl: str) -> None:
    threads = bench_threads()
    models, x, expected = _resnet(threads)
    benchmark.group = (f"resnet18 {IMAGE}x{IMAGE} batch 1 {SPARSITY:.0%} sparse, "
                       f"{threads} thread{'s' if threads > 1 else ''}")
    benchmark.extra_info["impl"] = impl
    with torch.no_grad():
        result = benchmark.pedantic(models[impl], args=(x,), rounds=15, warmup_rounds=2,
                                    iterations=1)
    torch.testing.assert_close(result, expected, rtol=1e-3, atol=1e-4)


def test_convert_resnet50(benchmark) -> None:
    """The time ``convert`` takes on a 90%-pruned ResNet-50 (224x224, batch-1 example):
    packing, timing every candidate (2 s budget), BatchNorm folding. Functional run:
    ResNet-18 at 32x32 with a 0.2 s budget."""

    from compressor.sparse import convert

    arch, image, budget = ("resnet18", 32, 0.2) if benchmark.disabled else ("resnet50", 224, 2.0)
    dense = pruned_model(arch, image=image)
    x = torch.randn(1, 3, image, image)
    benchmark.group = f"convert {arch} {image}x{image} {SPARSITY:.0%} sparse"
    report: list = []
    converted = benchmark.pedantic(lambda: convert(dense, example_inputs=x, time_budget=budget,
                                                   report=report), rounds=1, iterations=1)
    convs = [r for r in report if r.kind == "Conv2d" and r.choice != "dense"]
    assert convs and all(r.batchnorm for r in convs)  # every converted conv has its BatchNorm
    with torch.no_grad():
        torch.testing.assert_close(converted(x), dense(x), rtol=1e-3, atol=1e-3)
