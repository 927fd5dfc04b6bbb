"""Benchmarks by family: ``masks/``, ``structured/``, ``sparse/``, ``thinning/``, ``training/``.

Each family has pytest-benchmark tests (``test_bench_*.py``; ``scripts/test.sh`` runs them
once untimed with ``--benchmark-disable``) and scripts that print ratio tables, run from
the repository root as modules: ``python -m benchmarks.masks.ratios``. The workloads
both share are in the family's ``cases.py``; every timed result is checked.
"""
