"""Every benchmark runs with COMPRESSOR_BENCH_THREADS torch threads (default 1; the
machine is noisy and small, so 2 threads are reported separately)."""

from __future__ import annotations

import pytest
import torch

from .common import bench_threads


@pytest.fixture(autouse=True)
def _bench_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(bench_threads())
    yield
    torch.set_num_threads(before)
