"""Sparse int8 Linear vs our float32 CSR, dense float32 and dense int8 (pytest-benchmark).

``pytest benchmarks/sparse/test_bench_int8.py`` times Linear 4096x4096 at 90% (batch 1,
32, 64, 256) per impl; ``--benchmark-disable`` runs 256x256 once, checking every result
(``int8 q8`` equals ``dense int8`` bit for bit). ``python -m benchmarks.sparse.int8``
prints the ratios of one run. Threads: COMPRESSOR_BENCH_THREADS (conftest.py).
"""

from __future__ import annotations

import functools

import pytest

from ..common import bench_threads
from .int8 import BATCHES, IMPLS, layers, runs


@functools.lru_cache(maxsize=2)
def _mods(size: int):
    return layers(size, size, 0.9)[1]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batch", BATCHES)
def test_linear_int8(benchmark, batch: int, impl: str) -> None:
    size = 256 if benchmark.disabled else 4096
    call = runs(_mods(size), batch, size)[impl]  # checks every impl's result
    threads = bench_threads()
    benchmark.group = (f"int8 linear {size}x{size} 90% batch {batch}, "
                       f"{threads} thread{'s' if threads > 1 else ''}")
    benchmark.extra_info["impl"] = impl
    benchmark.pedantic(call, rounds=5, warmup_rounds=1, iterations=1)
