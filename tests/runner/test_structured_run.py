"""Structured pruning from the schedule: groups, thinning, thinned checkpoints, resume."""

from __future__ import annotations

import json

import pytest
import torch

import compressor
from compressor.cli import main
from compressor.io.checkpoint import load_checkpoint
from compressor.runner.run import check_schedule
from compressor.schedule import ScheduleError

from ..helpers import REPO, run_cli, run_schedule

STRUCTURED = """\
version: 1
model: {arch: mnist_net}
data: {dataset: synthetic, train_samples: 256, test_samples: 128}
training:
  from_scratch: true
  epochs: 4
  batch_size: 32
  optimizer: {type: SGD, lr: 0.05, momentum: 0.9}
pruners:
  filters:
    type: agp
    criterion: CRITERION
    weights: [conv2.weight]
    initial_sparsity: 0.1
    final_sparsity: 0.25
  fc:
    type: level
    weights: [fc1.weight]
    sparsity: 0.5
extensions:
  thin: {type: thinning}
policies:
  - pruner: filters
    starting_epoch: 0
    ending_epoch: 2
  - pruner: fc
    epochs: [0]
  - extension: thin
    epochs: [1]
"""


@pytest.fixture(scope="module")
def thinned_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("structured")
    return root / "s.yaml", run_schedule(root, STRUCTURED.replace("CRITERION", "l1_filter"))


@pytest.mark.slow
def test_thinning_in_schedule_shrinks_model_and_reports_it(thinned_run):
    _, out = thinned_run
    report = json.loads((out / "report.json").read_text())
    layers = report["structure"]["layers"]
    # AGP on conv2 reaches floor(0.25 * 64) = 16 filters by epoch 1, then thinning
    assert layers["conv2"]["shape_before"] == [64, 32, 3, 3]
    assert layers["conv2"]["shape_after"] == [48, 32, 3, 3]
    assert layers["fc1"]["shape_after"] == [128, 48 * 144]  # flatten → Linear blocks
    totals = report["structure"]["totals"]
    assert totals["macs_after"] < totals["macs_before"] and totals["params_after"] < totals["params_before"]
    (event,) = report["thinning"]
    assert event["epoch"] == 1 and event["channels_removed"] == 16
    # the element-wise pruner on fc1 kept its 50% on the thinned tensor
    fc1 = report["sparsity"]["layers"]["fc1.weight"]
    assert fc1["sparsity"] == pytest.approx(0.5, abs=0.01)
    md = (out / "report.md").read_text()
    assert "| `conv2` | 64×32×3×3 | 48×32×3×3 |" in md
    (group,) = report["pruners"]["filters"]["groups"]
    assert group.startswith("group ") and "conv2" in group and "fc1" in group
    assert "## Dependency groups of structured pruners" in md


@pytest.mark.slow
def test_thinned_checkpoint_loads_weights_only_and_rebuilds(thinned_run):
    _, out = thinned_run
    final = out / "checkpoints" / "final.pt"
    state = torch.load(final, weights_only=True)
    assert state["thinning"]["modules"]["conv2"]["keep_out"]
    model = compressor.load(final)
    assert model.conv2.out_channels == 48 and model.fc1.in_features == 48 * 144
    x = torch.randn(3, 1, 28, 28)
    assert model(x).shape == (3, 10)


@pytest.mark.slow
def test_resume_after_thinning_equals_uninterrupted(thinned_run, tmp_path):
    _, out = thinned_run
    assert run_cli("--resume-from", str(out / "checkpoints" / "epoch_002.pt"), "--out",
                   str(tmp_path / "r")) == 0
    a = load_checkpoint(out / "checkpoints" / "final.pt")["model"]
    b = load_checkpoint(tmp_path / "r" / "checkpoints" / "final.pt")["model"]
    assert all(torch.equal(t, b[n]) for n, t in a.items())


@pytest.mark.parametrize("criterion", ["l2_filter", "fpgm", "l1_channel", "bn_scale"])
def test_other_criteria_check_or_explain(write_schedule, criterion):
    text = STRUCTURED.replace("CRITERION", criterion)
    if criterion == "l1_channel":  # conv2's input channels belong to conv1's group
        check_schedule(str(write_schedule(text)))
    elif criterion == "bn_scale":  # mnist_net has no BatchNorm
        with pytest.raises(ScheduleError, match="'conv2.weight' is not a BatchNorm weight"):
            check_schedule(str(write_schedule(text)))
    else:
        check_schedule(str(write_schedule(text)))


def test_classifier_outputs_cannot_be_pruned(write_schedule):
    text = STRUCTURED.replace("CRITERION", "neuron").replace("weights: [conv2.weight]",
                                                             "weights: [fc2.weight]")
    with pytest.raises(ScheduleError, match="'fc2.weight': its channels cannot be pruned"):
        check_schedule(str(write_schedule(text)))


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_structured_pruning_goes_on_after_thinning(write_schedule, tmp_path, scope):
    """AGP on conv2 over epochs 0-3 with thinning on epochs 1 and 3: the sparsity stays
    relative to the dense 64 filters (13 removed on epoch 1, 3 more by epoch 3 =
    floor(0.25 * 64)), and resuming after the first thinning repeats the run exactly."""
    text = STRUCTURED.replace("CRITERION", "l1_filter").replace("ending_epoch: 2", "ending_epoch: 4")
    text = text.replace("  - extension: thin\n    epochs: [1]", "  - extension: thin\n    epochs: [1, 3]")
    if scope == "global":  # conv1 and conv2 ranked together, 25% of their 96 filters
        text = text.replace("weights: [conv2.weight]\n", "weights: [conv1.weight, conv2.weight]\n"
                                                           "    scope: global\n")
    out = tmp_path / "o"
    assert run_cli("--schedule", str(write_schedule(text)), "--out", str(out), "--keep-checkpoints", "0") == 0
    report = json.loads((out / "report.json").read_text())
    first, second = report["thinning"]
    assert (first["epoch"], second["epoch"]) == (1, 3)
    layers = report["structure"]["layers"]
    if scope == "layer":
        assert (first["channels_removed"], second["channels_removed"]) == (13, 3)
        assert layers["conv2"]["shape_after"][0] == 48
    else:
        assert first["channels_removed"] + second["channels_removed"] == 24 and second["channels_removed"] > 0
        assert layers["conv1"]["shape_after"][0] + layers["conv2"]["shape_after"][0] == 96 - 24
    assert run_cli("--resume-from", str(out / "checkpoints" / "epoch_001.pt"), "--out",
                   str(tmp_path / "r")) == 0
    a = load_checkpoint(out / "checkpoints" / "final.pt")
    b = load_checkpoint(tmp_path / "r" / "checkpoints" / "final.pt")
    assert a["thinning"] == b["thinning"]
    assert all(torch.equal(t, b["model"][n]) for n, t in a["model"].items())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist_net_l1_filter", "mnist_net_fpgm"])
def test_shipped_structured_schedules_thin_with_zero_epochs(name, tmp_path, monkeypatch):
    text = (REPO / "schedules" / f"{name}.yaml").read_text()
    text = text.replace("dataset: fashion_mnist", "dataset: synthetic\n  test_samples: 64")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert run_cli("--schedule", str(path), "--out", str(tmp_path / "o")) == 0
    layers = json.loads((tmp_path / "o" / "report.json").read_text())["structure"]["layers"]
    keep = {"mnist_net_l1_filter": (26, 52), "mnist_net_fpgm": (10, 20)}[name]
    assert (layers["conv1"]["shape_after"][0], layers["conv2"]["shape_after"][0]) == keep
    assert layers["fc1"]["shape_after"][1] == keep[1] * 144


@pytest.mark.slow
def test_offline_thin_command(tmp_path, thinned_run, capsys):
    _, out = thinned_run
    # the dense checkpoint has no zeroed groups; the AGP epoch-0 checkpoint has 6 filters zeroed
    ckpt = out / "checkpoints" / "epoch_000.pt"
    assert main(["thin", str(ckpt), "--out", str(tmp_path / "t.pt")]) == 0
    assert "removed 6 channels" in capsys.readouterr().out
    model = compressor.load(tmp_path / "t.pt")
    assert model.conv2.out_channels == 58
    assert run_cli("--resume-from", str(tmp_path / "t.pt")) == 2
    assert "cannot be resumed" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18_filters_agp", "resnet18_slimming"])
def test_shipped_resnet18_structured_schedules_run_and_thin(name, tmp_path):
    text = (REPO / "schedules" / f"{name}.yaml").read_text()
    text = text.replace("dataset: fashion_mnist",
                        "dataset: synthetic\n  train_samples: 16\n  test_samples: 16")
    text = text.replace("dense_epochs: 4", "from_scratch: true").replace("batch_size: 128", "batch_size: 16")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert run_cli("--schedule", str(path), "--out", str(tmp_path / "o")) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    (event,) = report["thinning"]
    assert event["channels_removed"] > 0
    totals = report["structure"]["totals"]
    assert totals["params_after"] < totals["params_before"] and totals["macs_after"] < totals["macs_before"]
    model = compressor.load(tmp_path / "o" / "checkpoints" / "final.pt")
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    if name == "resnet18_filters_agp":  # 50% of every group's filters
        assert report["structure"]["layers"]["layer1.0.conv1"]["shape_after"][0] == 32
