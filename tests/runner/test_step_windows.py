"""Step-window policies through the ``compress`` runner: an AGP ramp within one epoch,
per-step lr scheduling, and resume between the ramp's steps."""

from __future__ import annotations

import json

import pytest
import torch

from compressor.io.checkpoint import load_checkpoint

from ..helpers import run_cli, run_schedule

# 256 samples / batch 32 = 8 steps per epoch; fc1 ramps 0 → 0.8 over steps 0..12 (every 4)
STEP_SCHEDULE = """\
version: 1
model:
  arch: mnist_net
data:
  dataset: synthetic
  train_samples: 256
  test_samples: 64
training:
  from_scratch: true  # the ramp is the subject, not the accuracy
  epochs: 3
  batch_size: 32
  optimizer:
    type: SGD
    lr: 0.05
pruners:
  fc_agp:
    type: agp
    weights: [fc1.weight]
    final_sparsity: 0.8
lr_schedulers:
  per_step:
    type: StepLR
    step_size: 4
    gamma: 0.5
policies:
  - pruner: fc_agp
    starting_step: 0
    ending_step: 13
    frequency: 4
  - lr_scheduler: per_step
    starting_step: 0
"""


def agp(step: int) -> float:
    return 0.8 * (1 - (1 - step / 12) ** 3)


@pytest.mark.slow
def test_ramp_by_steps_within_epochs(tmp_path):
    out = run_schedule(tmp_path, STEP_SCHEDULE)
    report = json.loads((out / "report.json").read_text())
    epochs = [e for e in report["epochs"] if e["phase"] == "compress"]
    # after epoch 0 (steps 0..7) the ramp stands at step 4's target, after epoch 1 at step 12's
    fc1 = 128 * 9216
    assert epochs[0]["sparsity"]["actual"] == pytest.approx(round(agp(4) * fc1) / fc1, abs=1e-6)
    assert epochs[1]["sparsity"]["actual"] == pytest.approx(0.8, abs=1e-6)
    assert epochs[0]["sparsity"]["target"] == pytest.approx(agp(4))
    # StepLR stepped after every optimizer step: lr halves every 4 steps (8 per epoch)
    assert [e["lr"] for e in epochs] == pytest.approx([0.05, 0.05 / 4, 0.05 / 16])


@pytest.mark.slow
def test_resume_between_steps_of_the_ramp(tmp_path):
    whole = run_schedule(tmp_path, STEP_SCHEDULE)  # keeps every checkpoint
    epoch0 = whole / "checkpoints" / "epoch_000.pt"  # mid-ramp: steps 0 and 4 done
    assert run_cli("--resume-from", str(epoch0), "--out", str(tmp_path / "resumed")) == 0
    a = load_checkpoint(whole / "checkpoints" / "final.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "final.pt")["model"]
    for name in a:
        assert torch.equal(a[name], b[name]), name

