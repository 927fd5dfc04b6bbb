"""An interrupted run (SIGTERM, Ctrl-C) still writes its report, marked partial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..helpers import VALID_SCHEDULE

SLOW_ENOUGH = VALID_SCHEDULE.replace("train_samples: 256", "train_samples: 1024")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_writes_a_partial_report(tmp_path, sig):
    schedule = tmp_path / "s.yaml"
    schedule.write_text(SLOW_ENOUGH)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "compressor", "--schedule", str(schedule), "--out", str(out),
           "--no-progress", "--threads", "1"]
    target = out / "checkpoints" / "epoch_000.pt"
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ}) as proc:
        deadline = time.time() + 120
        while not target.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert target.exists() and proc.poll() is None, "the run ended before the signal"
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr)
    assert "Traceback" not in stderr and "--resume-from" in stderr, stderr
    assert not (out / "checkpoints" / "final.pt").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted"
    phases = [(e["phase"], e["epoch"]) for e in report["epochs"]]
    assert phases[:2] == [("dense", 0), ("compress", 0)] and len(phases) < 5
    assert report["dense"]["top1"] >= 0 and report["final"] is None
    assert report["resume_from"].endswith(".pt")
    md = (out / "report.md").read_text()
    assert "interrupted" in md.splitlines()[2].lower() and "| compress | 0 |" in md


def test_finished_report_is_marked_complete(finished_run):
    _, out = finished_run
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete" and report["resume_from"] is None
