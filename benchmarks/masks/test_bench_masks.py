"""Mask ops vs their torch equivalents on 100M fp32 weights (pytest-benchmark).

Not part of the default test run (``testpaths = ["tests"]``)::

    pytest benchmarks/masks                      # 1 thread
    COMPRESSOR_BENCH_THREADS=2 pytest benchmarks/masks
    pytest benchmarks/masks --benchmark-disable  # CI: functional, ~100k weights

Each group (threshold, mask, apply) puts ours and torch's side by side; every timed
result is checked. ``python -m benchmarks.masks.ratios`` prints the speed-ups as a table.
"""

from __future__ import annotations

import pytest

from ..common import bench_threads
from .cases import CASE_IDS, FULL_SIZE, cases, size_label

SMALL_SIZE = 100_003  # with --benchmark-disable: the same code paths, in a blink


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_mask_op(benchmark, case_id: str) -> None:
    n = SMALL_SIZE if benchmark.disabled else FULL_SIZE
    case = cases(n)[case_id]
    threads = bench_threads()
    benchmark.group = (f"{case.group}: {size_label(n)} fp32, sparsity 0.5, "
                       f"{threads} thread{'s' if threads > 1 else ''}")
    benchmark.extra_info["impl"] = case.impl
    result = benchmark.pedantic(case.run, setup=case.setup, rounds=case.rounds,
                                warmup_rounds=0, iterations=1)
    case.check(result)
