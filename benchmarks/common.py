"""What every benchmark family shares: the thread count."""

from __future__ import annotations

import os


def bench_threads() -> int:
    """Threads to benchmark with: COMPRESSOR_BENCH_THREADS, default 1."""
    value = os.environ.get("COMPRESSOR_BENCH_THREADS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"COMPRESSOR_BENCH_THREADS must be a positive integer, got {value!r}")
    return int(value)
