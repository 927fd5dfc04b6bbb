"""The extension is built for one torch minor version; under another, importing compressor
fails with a message naming both versions."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import compressor
from compressor import _C
from compressor.ops import check_torch_version


def test_the_build_records_the_torch_it_was_built_for():
    assert _C.torch_version().split("+")[0] == torch.__version__.split("+")[0]
    check_torch_version(_C.torch_version(), torch.__version__)  # this torch: no error


@pytest.mark.parametrize(("built", "running", "ok"), [
    ("2.14.1", "2.14.0", True), ("2.14.1+cpu", "2.14.3+cu128", True), ("2.14.1", "2.15.0", False),
    ("2.14.1", "2.13.2", False), ("2.14.1", "3.14.1", False), ("2.14.1", "2.15.0.dev20270101", False)])
def test_minor_versions_are_compared(built, running, ok):
    if ok:
        check_torch_version(built, running)
        return
    with pytest.raises(ImportError) as info:
        check_torch_version(built, running)
    message = str(info.value)
    assert built in message and running in message and "--no-build-isolation" in message


def test_import_under_another_torch_fails_with_a_clear_message():
    code = "import torch; torch.__version__ = '2.99.0'; import compressor"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: compressor") and "2.99.0" in last and _C.torch_version() in last
    assert compressor.__version__
