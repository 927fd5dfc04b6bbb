"""What a run shows: epochs.csv, the PNG plots report.md links, TensorBoard scalars."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from compressor.runner.logging import CSV_COLUMNS
from compressor.runner.plots import PLOTS

from ..helpers import VALID_SCHEDULE, run_cli

QUICK = VALID_SCHEDULE.replace("dense_epochs: 1", "dense_epochs: 1\n  max_batches_per_epoch: 2")


@pytest.mark.slow
def test_epochs_csv_is_the_history(finished_run):
    _, out = finished_run
    report = json.loads((out / "report.json").read_text())
    with open(out / "epochs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(report["epochs"]) == 5
    for row, epoch in zip(rows, report["epochs"]):
        assert (row["phase"], int(row["epoch"])) == (epoch["phase"], epoch["epoch"])
        assert float(row["loss"]) == epoch["loss"] and float(row["top1"]) == epoch["top1"]
        if epoch["phase"] == "compress":
            assert float(row["sparsity"]) == epoch["sparsity"]["actual"]
        else:
            assert row["sparsity"] == ""


@pytest.mark.slow
def test_report_md_links_the_plots(finished_run):
    _, out = finished_run
    md = (out / "report.md").read_text()
    for name, caption in PLOTS.items():
        assert f"![{caption}](plots/{name})" in md
        with Image.open(out / "plots" / name) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 200
    assert json.loads((out / "report.json").read_text())["plots"] == [f"plots/{n}" for n in PLOTS]


def _scalars(directory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.mark.slow
@pytest.mark.parametrize("where", ["flag", "section"])
def test_tensorboard_scalars(tmp_path, where):
    board = tmp_path / "tb"
    text = QUICK if where == "flag" else QUICK.replace("pruners:",
                                                       f"logging:\n  tensorboard: {board}\npruners:")
    (tmp_path / "s.yaml").write_text(text)
    args = ["--tensorboard", str(board)] if where == "flag" else []
    out = tmp_path / "out"
    assert run_cli("--schedule", str(tmp_path / "s.yaml"), "--out", str(out), *args) == 0
    report = json.loads((out / "report.json").read_text())
    scalars = _scalars(board)
    assert [v for _, v in scalars["train/loss"]] == pytest.approx([e["loss"] for e in report["epochs"]])
    assert [s for s, _ in scalars["eval/top1"]] == [0, 1, 2, 3, 4]  # dense epoch 0, then 4 compression
    compress = [e for e in report["epochs"] if e["phase"] == "compress"]
    pruned = [v for _, v in scalars["sparsity/pruned"]]
    assert pruned == pytest.approx([e["sparsity"]["actual"] for e in compress])
    assert [v for _, v in scalars["sparsity/layer/fc1.weight"]][-1] == pytest.approx(0.8, abs=1e-4)
    assert [v for _, v in scalars["lr"]] == pytest.approx([e["lr"] for e in report["epochs"]])
    totals = report["structure"]["totals"]
    assert scalars["structure/params_after"][0][1] == totals["params_after"]
    assert scalars["structure/macs_before"][0][1] == pytest.approx(totals["macs_before"])


def test_tensorboard_missing_package_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    (tmp_path / "s.yaml").write_text(QUICK)
    assert run_cli("--schedule", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"),
                   "--tensorboard", str(tmp_path / "tb")) == 2
    assert "pip install 'compressor[tensorboard]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
