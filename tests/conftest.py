"""Shared fixtures: schedule files written to tmp_path, small synthetic runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> int:
    """``compress ARGS`` in-process, without progress bars, on one thread; its exit status."""
    from compressor.cli import main

    return main(["--no-progress", "--threads", "1", *args])


def run_schedule(root: Path, text: str, name: str = "s.yaml") -> Path:
    """Write ``text`` to ``root/name`` and run it into ``root/out`` keeping every
    checkpoint; returns ``root/out``."""
    path = root / name
    path.write_text(text)
    out = root / "out"
    assert run_cli("--schedule", str(path), "--out", str(out), "--keep-checkpoints", "0") == 0
    return out


def combine_masks(into: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    """Add keep-masks to ``into``; a parameter masked twice keeps what both keep."""
    for name, mask in masks.items():
        into[name] = into[name] & mask if name in into else mask


def apply_masks(model: torch.nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Multiply keep-masks ({parameter name: bool tensor}) into the model's parameters."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


# A complete, valid schedule on the synthetic data set: mnist_net at 28×28.
VALID_SCHEDULE = """\
version: 1
model:
  arch: mnist_net
data:
  dataset: synthetic
  train_samples: 256
  test_samples: 128
training:
  dense_epochs: 1
  epochs: 4
  batch_size: 32
  optimizer:
    type: SGD
    lr: 0.05
    momentum: 0.9
pruners:
  fc_agp:
    type: agp
    weights: [fc1.weight]
    initial_sparsity: 0.1
    final_sparsity: 0.8
  conv_level:
    type: level
    weights: {conv2.weight: 0.5}
lr_schedulers:
  step:
    type: StepLR
    step_size: 2
    gamma: 0.5
regularizers:
  small_l1:
    type: l1
    weights: [fc2.weight]
    strength: 1.0e-5
policies:
  - pruner: fc_agp
    starting_epoch: 0
    ending_epoch: 3
  - pruner: conv_level
    epochs: [1]
  - regularizer: small_l1
  - lr_scheduler: step
"""


@pytest.fixture
def write_schedule(tmp_path):
    """write_schedule(text, name='s.yaml') -> path; text is dedented."""

    def write(text: str, name: str = "schedule.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
