"""The scripts in examples/ run as a user runs them (on small generated data here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import compressor

from .data.files import make_idx
from .helpers import REPO


@pytest.mark.slow
def test_own_model_example(tmp_path):
    make_idx(tmp_path / "data", counts={"train": 2560, "test": 200})
    out = tmp_path / "own.pt"
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "own_model.py"), "--data-dir", str(tmp_path / "data"),
         "--epochs", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    epochs = [re.search(r"fc1 (\d+)% zero  block.conv_a (\d+) filters", ln) for ln in lines[:3]]
    assert all(epochs), result.stdout
    # AGP by steps raises fc1's sparsity every epoch; filters are thinned 32 → 16 on epoch 2
    zero = [int(m.group(1)) for m in epochs]
    assert 0 < zero[0] < zero[1] < zero[2]
    assert [int(m.group(2)) for m in epochs] == [32, 32, 16]
    assert "reloaded: top-1" in lines[-1]
    from examples.own_model import OwnNet

    model = compressor.load(out, model=OwnNet())
    assert model.block.conv_a.out_channels == 16 and model.block.conv_b.in_channels == 16
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.slow
def test_ddp_example_under_torchrun(tmp_path):
    make_idx(tmp_path / "data", counts={"train": 2560, "test": 100})
    out = tmp_path / "ddp.pt"
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2",
         str(REPO / "examples" / "ddp_own_model.py"), "--data-dir", str(tmp_path / "data"),
         "--epochs", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env={"PATH": str(torchrun.parent)})
    assert result.returncode == 0, result.stderr[-3000:]
    filters = [int(m.group(1)) for m in re.finditer(r"block.conv_a (\d+) filters", result.stdout)]
    assert filters == [32, 32, 16], result.stdout  # rank 0 alone prints; thinned on epoch 2
    from examples.own_model import OwnNet

    model = compressor.load(out, model=OwnNet())
    assert model.block.conv_a.out_channels == 16
