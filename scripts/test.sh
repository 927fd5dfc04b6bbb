#!/usr/bin/env bash
# Set up, lint, then run the test suite and the benchmarks once as functional tests.
# Extra arguments go to pytest (e.g. -k schedule, -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check compressor tests benchmarks examples
.venv/bin/python -m pytest tests "$@"
# Benchmarks run once, untimed, so they cannot rot (timing them is `pytest benchmarks`).
.venv/bin/python -m pytest benchmarks --benchmark-disable -q
