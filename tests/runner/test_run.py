"""A run end to end on small synthetic data: report, checkpoints, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from compressor.io.checkpoint import load_checkpoint

from ..helpers import VALID_SCHEDULE, run_cli


@pytest.mark.slow
def test_report_json_has_the_promised_fields(finished_run):
    _, out = finished_run
    report = json.loads((out / "report.json").read_text())
    assert 0 <= report["dense"]["top1"] <= 100 and 0 <= report["final"]["top1"] <= 100
    assert report["final"]["top5"] >= report["final"]["top1"]
    fc1 = report["sparsity"]["layers"]["fc1.weight"]
    assert fc1["shape"] == [128, 9216] and fc1["pruned"] and fc1["target"] == pytest.approx(0.8)
    # exactly round(0.8 * numel) weights pruned, and fine-tuning kept them at zero
    assert fc1["nnz"] == 128 * 9216 - round(0.8 * 128 * 9216)
    conv2 = report["sparsity"]["layers"]["conv2.weight"]
    assert conv2["nnz"] == 18432 - round(0.5 * 18432) and conv2["sparsity"] == pytest.approx(0.5)
    assert not report["sparsity"]["layers"]["conv1.weight"]["pruned"]
    total_params = sum(layer["numel"] for layer in report["sparsity"]["layers"].values())
    zeros = sum(layer["numel"] - layer["nnz"] for layer in report["sparsity"]["layers"].values())
    assert report["sparsity"]["total"] == pytest.approx(zeros / total_params)
    phases = [(e["phase"], e["epoch"]) for e in report["epochs"]]
    assert phases == [("dense", 0), ("compress", 0), ("compress", 1), ("compress", 2), ("compress", 3)]
    compress = [e for e in report["epochs"] if e["phase"] == "compress"]
    # AGP over epochs 0..2 for fc1 (0.1 → 0.8), conv2 at 0.5 from epoch 1
    fc1_numel, conv2_numel = 128 * 9216, 18432
    expected_fc1 = [0.1, 0.8 + (0.1 - 0.8) * 0.5 ** 3, 0.8, 0.8]
    for e, fc1_target in zip(compress, expected_fc1):
        conv_target = 0.5 if e["epoch"] >= 1 else 0.0
        want = (fc1_target * fc1_numel + conv_target * conv2_numel) / (fc1_numel + conv2_numel)
        assert e["sparsity"]["target"] == pytest.approx(want)
        assert e["sparsity"]["actual"] == pytest.approx(want, abs=1e-4)
    # StepLR(step_size=2, gamma=0.5) stepped at each epoch end
    assert [e["lr"] for e in compress] == pytest.approx([0.05, 0.05, 0.025, 0.025])
    md = (out / "report.md").read_text()
    assert "| `fc1.weight` | 128×9216 |" in md and "80.00%" in md


@pytest.mark.slow
def test_final_checkpoint_loads_weights_only_and_matches_model(finished_run):
    _, out = finished_run
    raw = torch.load(out / "checkpoints" / "final.pt", weights_only=True)
    assert raw["phase"] == "done" and raw["epochs_done"] == 4
    mask = raw["scheduler"]["masks"]["fc1.weight"]
    assert mask.dtype == torch.bool and (raw["model"]["fc1.weight"][~mask] == 0).all()
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["dense.pt", "dense_epoch_000.pt", "epoch_000.pt", "epoch_001.pt",
                     "epoch_002.pt", "epoch_003.pt", "final.pt"]


@pytest.mark.slow
@pytest.mark.parametrize("resume_from", ["epoch_001.pt", "dense_epoch_000.pt", "dense.pt"])
def test_resume_equals_uninterrupted_run(finished_run, tmp_path, resume_from):
    schedule, out = finished_run
    ckpt = out / "checkpoints" / resume_from
    assert run_cli("--resume-from", str(ckpt), "--out", str(tmp_path / "resumed")) == 0
    a = load_checkpoint(out / "checkpoints" / "final.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "final.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert [e["top1"] for e in a["history"]] == [e["top1"] for e in b["history"]]


@pytest.mark.slow
def test_kill_then_resume_finishes_like_uninterrupted(finished_run, tmp_path):
    schedule, out = finished_run
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "compressor", "--schedule", str(schedule), "--out", str(run_dir),
           "--no-progress", "--threads", "1", "--keep-checkpoints", "0"]
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err) as proc:
        target = run_dir / "checkpoints" / "epoch_000.pt"
        deadline = time.time() + 120
        while not target.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert target.exists(), log.read_text()
    assert not (run_dir / "checkpoints" / "final.pt").exists(), "run finished before the kill"
    newest = sorted((run_dir / "checkpoints").glob("epoch_*.pt"))[-1]
    assert run_cli("--resume-from", str(newest)) == 0
    a = load_checkpoint(out / "checkpoints" / "final.pt")
    b = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    assert all(torch.equal(t, b["model"][n]) for n, t in a["model"].items())


def test_user_errors_exit_2(tmp_path, capsys, write_schedule):
    path = write_schedule(VALID_SCHEDULE)
    assert run_cli("--schedule", str(path), "--device", "cuda") == 2 or torch.cuda.is_available()
    assert run_cli("--resume-from", str(tmp_path / "nope.pt")) == 2
    assert "checkpoint" in capsys.readouterr().err
    fm = write_schedule(VALID_SCHEDULE.replace("dataset: synthetic", "dataset: fashion_mnist"), "fm.yaml")
    assert run_cli("--schedule", str(fm), "--data-dir", str(tmp_path / "empty"), "--epochs", "4") == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "apt-get install dataset-fashion-mnist" in err
    assert "Traceback" not in err
