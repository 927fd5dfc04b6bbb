"""Shared fixtures: schedule files written to tmp_path, small synthetic runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


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
