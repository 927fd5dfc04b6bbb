"""Resume never changes a run: the effective settings (CLI overrides included) live in the
checkpoints, a killed run resumed with only ``--resume-from`` ends bit-identical, and an
override that contradicts the checkpoint is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from compressor.cli import main
from compressor.io.checkpoint import load_checkpoint

# The quick start's schedule (schedules/mnist_net_agp.yaml) made small: synthetic data of 16
# batches per epoch, of which --max-batches-per-epoch keeps 3, so a resume that forgot the
# cap would train whole epochs.
MAIN_JOB = """\
version: 1
model: {arch: mnist_net}
data: {dataset: synthetic, train_samples: 512, test_samples: 64}
training:
  dense_epochs: 1
  epochs: 3
  batch_size: 32
  optimizer: {type: Adam, lr: 0.001}
pruners:
  conv_agp: {type: agp, weights: [conv2.weight], initial_sparsity: 0.05, final_sparsity: 0.7}
  fc1_agp: {type: agp, weights: [fc1.weight], initial_sparsity: 0.05, final_sparsity: 0.92}
lr_schedulers:
  decay: {type: ExponentialLR, gamma: 0.8}
policies:
  - {pruner: conv_agp, starting_epoch: 0, ending_epoch: 2}
  - {pruner: fc1_agp, starting_epoch: 0, ending_epoch: 2}
  - {lr_scheduler: decay}
"""
# scripts/quickstart.sh's flags (with a smaller batch cap)
FLAGS = ("--max-batches-per-epoch", "3")
CHECKPOINT_ORDER = ["dense_epoch_000.pt", "dense.pt", "epoch_000.pt", "epoch_001.pt", "epoch_002.pt",
                    "final.pt"]


def _compress(*args: str) -> list[str]:
    return [sys.executable, "-m", "compressor", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "TQDM_DISABLE": "1"}


def _final(out: Path) -> dict:
    return load_checkpoint(out / "checkpoints" / "final.pt")


def _assert_same_run(a: dict, b: dict) -> None:
    assert a["model"].keys() == b["model"].keys()
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), f"weights of {name} differ"
    masks_a, masks_b = a["scheduler"]["masks"], b["scheduler"]["masks"]
    assert masks_a.keys() == masks_b.keys() and masks_a
    for name, mask in masks_a.items():
        assert torch.equal(mask, masks_b[name]), f"mask of {name} differs"
    assert [(e["phase"], e["epoch"], e["loss"]) for e in a["history"]] == \
        [(e["phase"], e["epoch"], e["loss"]) for e in b["history"]]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """The schedule, and an uninterrupted run of it with the quick start's flags."""
    root = tmp_path_factory.mktemp("mainjob")
    schedule = root / "mnist_net_agp.yaml"
    schedule.write_text(MAIN_JOB)
    out = root / "uninterrupted"
    proc = subprocess.run(_compress("--schedule", str(schedule), *FLAGS, "--out", str(out)),
                          capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    return schedule, out


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["dense_epoch_000.pt", "dense.pt", "epoch_001.pt"])
def test_killed_quickstart_resumed_with_only_resume_from_is_bit_identical(quickstart, tmp_path, kill_after):
    schedule, reference = quickstart
    out = tmp_path / "killed"
    target = out / "checkpoints" / kill_after
    with subprocess.Popen(_compress("--schedule", str(schedule), *FLAGS, "--out", str(out)),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()) as proc:
        deadline = time.time() + 240
        while not target.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert target.exists(), f"{kill_after} never appeared"
    written = [n for n in CHECKPOINT_ORDER if (out / "checkpoints" / n).exists()]
    assert "final.pt" not in written, "the run finished before the kill"
    newest = out / "checkpoints" / written[-1]
    proc = subprocess.run(_compress("--resume-from", str(newest)), capture_output=True, text=True,
                          timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    _assert_same_run(_final(reference), _final(out))


@pytest.mark.slow
def test_checkpoints_record_the_effective_settings(quickstart):
    _, reference = quickstart
    state = _final(reference)
    settings = state["settings"]
    assert (settings["max_batches_per_epoch"], settings["epochs"], settings["seed"]) == (3, 3, 0)
    assert isinstance(settings["threads"], int) and settings["threads"] >= 1
    assert settings["data_dir"] is None and settings["device"] == "cpu"
    # every epoch trained 3 batches of 32: the history says how many
    assert [e["batches"] for e in state["history"]] == [3] * 4


@pytest.mark.slow
@pytest.mark.parametrize(("flag", "value", "stored"), [
    ("--max-batches-per-epoch", "5", "3"), ("--epochs", "6", "3"), ("--seed", "1", "0"),
    ("--data-dir", "/elsewhere", "none"), ("--threads", "7", "THREADS")])
def test_override_contradicting_the_checkpoint_is_an_error_naming_both(quickstart, tmp_path, capsys,
                                                                       flag, value, stored):
    _, reference = quickstart
    ckpt = reference / "checkpoints" / "dense.pt"
    if stored == "THREADS":
        stored = str(load_checkpoint(ckpt)["settings"]["threads"])
    assert main(["--no-progress", "--resume-from", str(ckpt), "--out", str(tmp_path / "o"),
                 flag, value]) == 2
    err = capsys.readouterr().err
    assert flag in err and value in err and stored in err, err
    assert not (tmp_path / "o").exists(), "nothing is written before the settings are checked"


@pytest.mark.slow
def test_override_equal_to_the_checkpoint_is_accepted(quickstart, tmp_path):
    schedule, reference = quickstart
    ckpt = reference / "checkpoints" / "epoch_001.pt"
    threads = str(load_checkpoint(ckpt)["settings"]["threads"])
    out = tmp_path / "o"
    assert main(["--no-progress", "--resume-from", str(ckpt), "--out", str(out),
                 "--max-batches-per-epoch", "3", "--epochs", "3", "--seed", "0",
                 "--threads", threads, "--schedule", str(schedule)]) == 0
    _assert_same_run(_final(reference), _final(out))


@pytest.mark.slow
def test_resume_with_another_schedule_text_is_refused(quickstart, tmp_path, capsys):
    schedule, reference = quickstart
    other = tmp_path / "other.yaml"
    other.write_text(schedule.read_text().replace("final_sparsity: 0.92", "final_sparsity: 0.9"))
    ckpt = reference / "checkpoints" / "epoch_001.pt"
    assert main(["--no-progress", "--resume-from", str(ckpt), "--out", str(tmp_path / "o"),
                 "--schedule", str(other)]) == 2
    err = capsys.readouterr().err
    assert str(other) in err and "differs from the schedule" in err, err
