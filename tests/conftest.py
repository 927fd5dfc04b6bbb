"""Fixtures shared by the tests: one thread and a fixed seed, schedule files written to
tmp_path, one finished run (shared helpers are in helpers.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from .helpers import VALID_SCHEDULE, run_schedule


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def write_schedule(tmp_path):
    """write_schedule(text, name='s.yaml') -> path; text is dedented."""

    def write(text: str, name: str = "schedule.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One complete run with every epoch checkpoint kept."""
    root = tmp_path_factory.mktemp("run")
    return root / "s.yaml", run_schedule(root, VALID_SCHEDULE)
