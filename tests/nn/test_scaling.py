"""Learned scaling factors (data-driven sparse structure selection): attaching, folding,
dependency groups, thinning, pruning by |scale| from a schedule, checkpoints and resume."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

import compressor
from compressor.cli import main
from compressor.engine.pruning.structured import group_scores
from compressor.engine.thinning import apply_recipe, plan_thinning, thin_model, thinning_recipe
from compressor.graph import find_groups, group_zero_masks
from compressor.io.checkpoint import load_checkpoint
from compressor.models import build_model
from compressor.nn.scaling import (
    ScalingError,
    attach_scaling_factors,
    fold_scaling_factors,
    is_scaled,
    load_with_new_scales,
    resolve_scalable,
    scaled_modules,
)
from compressor.runner.run import check_schedule
from compressor.schedule import ScheduleError

from ..helpers import REPO, apply_masks, combine_masks, run_cli, run_schedule


def _randomize_scales(model: nn.Module, zero: dict[str, list[int]] | None = None) -> None:
    with torch.no_grad():
        for name in scaled_modules(model):
            model.get_submodule(name).scale.uniform_(0.2, 2.0)
        for name, idx in (zero or {}).items():
            model.get_submodule(name).scale[idx] = 0.0


@pytest.mark.parametrize("make, x", [
    (lambda: nn.Conv2d(3, 5, 3, padding=1), torch.randn(2, 3, 7, 6)),
    (lambda: nn.Conv2d(4, 4, 3, groups=4, bias=False), torch.randn(2, 4, 5, 5)),
    (lambda: nn.Linear(6, 7), torch.randn(3, 6)),
    (lambda: nn.Linear(6, 7), torch.randn(2, 4, 6)),
    (lambda: nn.BatchNorm2d(5), torch.randn(4, 5, 3, 3)),
    (lambda: nn.BatchNorm1d(5), torch.randn(4, 5)),
])
@pytest.mark.parametrize("training", [False, True])
def test_scaled_output_and_exact_fold(make, x, training):
    torch.manual_seed(0)
    plain = make().train(training)
    with torch.no_grad():
        for p in plain.parameters():
            p.uniform_(-1, 1)
    model = nn.Sequential(copy.deepcopy(plain))
    attach_scaling_factors(model, ["0"])
    assert is_scaled(model[0]) and isinstance(model[0], type(plain))
    assert "0.scale" in dict(model.named_parameters())
    assert torch.allclose(model(x), plain(x), atol=1e-6)  # initialised to 1
    _randomize_scales(model, {"0": [1]})
    scaled = model(x)
    channel_dim = -1 if isinstance(plain, nn.Linear) else 1
    shape = [1] * scaled.dim()
    shape[channel_dim] = -1
    assert torch.allclose(scaled, plain(x) * model[0].scale.detach().reshape(shape), atol=1e-5)
    assert torch.all(scaled.select(channel_dim, 1) == 0)
    fold_scaling_factors(model)
    assert type(model[0]) is type(plain) and "0.scale" not in dict(model.named_parameters())
    assert torch.allclose(model(x), scaled, atol=1e-5)


def test_attach_rejects_modules_without_channels_to_scale():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2, affine=False))
    with pytest.raises(ScalingError, match="'1' cannot carry scaling factors: it is a ReLU"):
        attach_scaling_factors(model, ["1"])
    with pytest.raises(ScalingError, match="BatchNorm2d without affine"):
        attach_scaling_factors(model, ["2"])
    assert not scaled_modules(model)  # nothing attached when one name is bad
    attach_scaling_factors(model, ["0"])
    with pytest.raises(ScalingError, match="already has scaling factors"):
        attach_scaling_factors(model, ["0"])


def test_resolve_scalable_patterns():
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=32)
    names, errors = resolve_scalable(model, ["layer1.*.bn*", "layer1.0.relu", "nosuch*"])
    assert names == ["layer1.0.bn1", "layer1.0.bn2", "layer1.1.bn1", "layer1.1.bn2"]
    assert len(errors) == 2
    assert any("'layer1.0.relu' matches no Conv2d, Linear or affine BatchNorm module (it matches "
               "layer1.0.relu (ReLU))" in e for e in errors)
    assert any("'nosuch*' matches no module of the model" in e for e in errors)


def test_scaled_resnet_groups_thinning_recipe_and_fold():
    """Factors on ResNet-18's BatchNorms join the channel groups; zeroing a group by
    |scale| and thinning keeps the outputs; the recipe replays on a fresh scaled model."""
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=32).eval()
    bns = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    attach_scaling_factors(model, bns)
    _randomize_scales(model)
    x = torch.randn(2, 3, 32, 32)
    all_groups = find_groups(model, x[:1])
    groups = [g for g in all_groups if g.prunable]
    residual = next(g for g in groups if any(m.name == "layer1.0.bn2.scale" for m in g.members))
    scale_members = [m.name for m in residual.members if m.tensor == "scale"]
    assert {"bn1.scale", "layer1.0.bn2.scale", "layer1.1.bn2.scale"} <= set(scale_members)
    expected = sum(dict(model.named_parameters())[n].detach().abs().double() for n in scale_members)
    assert torch.allclose(group_scores(model, residual, "scaling_factor"), expected)

    masks: dict[str, torch.Tensor] = {}
    for g in groups:
        order = torch.argsort(group_scores(model, g, "scaling_factor"))[: g.channels // 2]
        combine_masks(masks, group_zero_masks(model, g, order))
    apply_masks(model, masks)
    masked = model(x)
    plan = plan_thinning(model, all_groups, masks=masks)
    assert plan.channels_removed == sum(g.channels // 2 for g in groups)
    thin_model(model, plan, masks=masks)
    assert model.layer1[0].bn2.scale.shape == (32,)
    assert torch.allclose(model(x), masked, atol=1e-5)

    recipe = thinning_recipe(model)
    assert recipe["modules"]["layer1.0.bn2"]["type"] == "BatchNorm2d"  # the class, not the scaled one
    fresh = build_model("resnet18", num_classes=10, in_channels=3, image_size=32).eval()
    attach_scaling_factors(fresh, bns)
    apply_recipe(fresh, recipe)
    fresh.load_state_dict(model.state_dict())
    fold_scaling_factors(fresh)
    assert not scaled_modules(fresh)
    assert torch.allclose(fresh(x), masked, atol=1e-5)


def test_load_with_new_scales():
    model = build_model("mnist_net", num_classes=10, in_channels=1, image_size=28)
    dense = copy.deepcopy(model.state_dict())
    attach_scaling_factors(model, ["conv2"])
    assert load_with_new_scales(model, dense) == ["conv2.scale"]
    dense.pop("fc1.bias")
    with pytest.raises(RuntimeError, match="fc1.bias"):
        load_with_new_scales(model, dense)


SSS = """\
version: 1
model:
  arch: mnist_net
  scaling_factors: [conv1, conv2, fc1]
data: {dataset: synthetic, train_samples: 256, test_samples: 128}
training:
  from_scratch: true
  epochs: 4
  batch_size: 32
  optimizer: {type: SGD, lr: 0.05, momentum: 0.9}
regularizers:
  factors_l1: {type: l1, weights: ["*.scale"], strength: 0.01}
pruners:
  select:
    type: level
    criterion: scaling_factor
    scope: global
    weights: ["*.scale"]
    sparsity: 0.5
extensions:
  thin: {type: thinning}
policies:
  - regularizer: factors_l1
    ending_epoch: 2
  - pruner: select
    epochs: [2]
  - extension: thin
    epochs: [2]
"""


@pytest.fixture(scope="module")
def sss_run(tmp_path_factory):
    return run_schedule(tmp_path_factory.mktemp("sss"), SSS, "sss.yaml")


@pytest.mark.slow
def test_schedule_prunes_by_learned_factors_and_thins(sss_run):
    report = json.loads((sss_run / "report.json").read_text())
    (event,) = report["thinning"]
    assert event["epoch"] == 2 and event["channels_removed"] == (32 + 64 + 128) // 2
    layers = report["structure"]["layers"]
    kept = [layers[n]["shape_after"][0] for n in ("conv1", "conv2", "fc1")]
    assert sum(kept) == (32 + 64 + 128) // 2
    assert layers["fc1"]["shape_after"][1] == kept[1] * 144
    # folded for the structure report: no scale parameters are counted
    assert report["structure"]["totals"]["params_after"] == sum(
        v["params_after"] for v in layers.values())

    # the selection is by |scale| at the pruning epoch: the kept channels of conv2 are the
    # ones with the largest factors in the epoch-1 checkpoint (trained through epoch 1)
    before = load_checkpoint(sss_run / "checkpoints" / "epoch_002.pt")
    keep = before["thinning"]["modules"]["conv2"]["keep_out"]
    assert len(keep) == kept[1]


@pytest.mark.slow
def test_l1_on_factors_shrinks_them(sss_run, write_schedule, tmp_path):
    """The same two epochs without the L1 policy: the factors end larger."""
    text = SSS.replace("  - regularizer: factors_l1\n    ending_epoch: 2\n", "").replace(
        'regularizers:\n  factors_l1: {type: l1, weights: ["*.scale"], strength: 0.01}\n', "")
    assert run_cli("--schedule", str(write_schedule(text)), "--out", str(tmp_path / "o"),
               "--keep-checkpoints", "0") == 0
    with_l1 = load_checkpoint(sss_run / "checkpoints" / "epoch_001.pt")["model"]
    without = load_checkpoint(tmp_path / "o" / "checkpoints" / "epoch_001.pt")["model"]
    for name in ("conv1.scale", "conv2.scale", "fc1.scale"):
        # L1 alone moves each factor by lr * strength per step: 0.05 * 0.01 * 16 steps = 0.008
        shrink = float(without[name].abs().mean() - with_l1[name].abs().mean())
        assert shrink > 0.004, (name, shrink)


@pytest.mark.slow
def test_scaled_checkpoints_load_folded_and_resume_exactly(sss_run, tmp_path):
    final = sss_run / "checkpoints" / "final.pt"
    state = torch.load(final, weights_only=True)
    assert state["model_spec"]["scaling_factors"] == ["conv1", "conv2", "fc1"]
    assert "conv2.scale" in state["model"]
    model = compressor.load(final)
    assert not scaled_modules(model) and "conv2.scale" not in model.state_dict()
    # the same outputs as the scaled, thinned model of the checkpoint
    from compressor.io.spec import build_from_spec
    scaled = build_from_spec(state["model_spec"])
    apply_recipe(scaled, state["thinning"])
    scaled.load_state_dict(state["model"])
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(model(x), scaled.eval()(x), atol=1e-5)

    assert run_cli("--resume-from", str(sss_run / "checkpoints" / "epoch_001.pt"), "--out",
                   str(tmp_path / "r")) == 0
    a = load_checkpoint(final)["model"]
    b = load_checkpoint(tmp_path / "r" / "checkpoints" / "final.pt")["model"]
    assert all(torch.equal(t, b[n]) for n, t in a.items())


@pytest.mark.slow
def test_offline_thin_of_scaled_checkpoint(sss_run, tmp_path, capsys):
    ckpt = sss_run / "checkpoints" / "epoch_001.pt"  # before the pruning epoch: nothing zero
    state = load_checkpoint(ckpt)
    # zero 5 conv2 channels through the factors only, as a user's own pruning might
    state["model"]["conv2.scale"][:5] = 0.0
    state["scheduler"]["masks"] = {"conv2.weight": torch.ones(64, 32, 3, 3, dtype=torch.bool)}
    from compressor.io.checkpoint import save_checkpoint
    save_checkpoint(tmp_path / "in.pt", state)
    assert main(["thin", str(tmp_path / "in.pt"), "--out", str(tmp_path / "t.pt")]) == 0
    # folding zeroes those channels' weights, so thinning removes them
    assert "removed 5 channels" in capsys.readouterr().out
    thinned = torch.load(tmp_path / "t.pt", weights_only=True)
    assert "scaling_factors" not in thinned["model_spec"]
    model = compressor.load(tmp_path / "t.pt")
    assert model.conv2.out_channels == 59 and type(model.conv2) is nn.Conv2d


PLAIN = """\
version: 1
model: {arch: mnist_net}
data: {dataset: synthetic, train_samples: 64, test_samples: 64}
training: {dense_epochs: 1, epochs: 1, batch_size: 32}
pruners:
  fc: {type: level, weights: [fc1.weight], sparsity: 0.5}
policies:
  - pruner: fc
"""


@pytest.mark.slow
def test_dense_checkpoint_without_factors_starts_them_at_one(write_schedule, tmp_path):
    dense_run = tmp_path / "dense"
    assert run_cli("--schedule", str(write_schedule(PLAIN, "plain.yaml")), "--out", str(dense_run)) == 0
    dense_ckpt = dense_run / "checkpoints" / "dense.pt"
    assert "conv2.scale" not in load_checkpoint(dense_ckpt)["model"]
    text = SSS.replace("model:\n  arch: mnist_net\n",
                       f"model:\n  arch: mnist_net\n  checkpoint: {dense_ckpt}\n").replace(
                           "  from_scratch: true\n", "")
    assert run_cli("--schedule", str(write_schedule(text, "from_dense.yaml")), "--out",
                   str(tmp_path / "o")) == 0
    dense = load_checkpoint(tmp_path / "o" / "checkpoints" / "dense.pt")["model"]
    assert torch.equal(dense["conv2.scale"], torch.ones(64))
    assert torch.equal(dense["conv2.weight"], load_checkpoint(dense_ckpt)["model"]["conv2.weight"])


def test_schedule_errors_name_the_line(write_schedule):
    text = SSS.replace("scaling_factors: [conv1, conv2, fc1]", "scaling_factors: [conv1, relu1, cnv2]")
    with pytest.raises(ScheduleError) as info:
        check_schedule(str(write_schedule(text)))
    message = str(info.value)
    assert ":4: model.scaling_factors: pattern 'relu1' matches no Conv2d, Linear or affine " \
           "BatchNorm module (it matches relu1 (ReLU))" in message
    assert "pattern 'cnv2' matches no module of the model" in message and "conv2" in message
    wrong = SSS.replace('weights: ["*.scale"]\n    sparsity', "weights: [conv2.weight]\n    sparsity")
    with pytest.raises(ScheduleError, match="'conv2.weight' is not the `scale` of a module listed "
                                            "under model.scaling_factors"):
        check_schedule(str(write_schedule(wrong)))


@pytest.mark.slow
def test_shipped_sss_schedule_runs(tmp_path):
    text = (REPO / "schedules" / "mnist_net_sss.yaml").read_text()
    text = text.replace("dataset: fashion_mnist",
                        "dataset: synthetic\n  train_samples: 64\n  test_samples: 64")
    path = tmp_path / "mnist_net_sss.yaml"
    path.write_text(text)
    assert run_cli("--schedule", str(path), "--out", str(tmp_path / "o")) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    (event,) = report["thinning"]
    assert event["channels_removed"] == (32 + 64 + 128) // 2


@pytest.mark.slow
def test_bench_variants_of_a_scaled_run_are_folded(sss_run):
    from compressor.bench import build_variants
    from compressor.io.spec import build_from_spec

    final = sss_run / "checkpoints" / "final.pt"
    variants, state, _ = build_variants(str(final), sparse=True, log=lambda _: None)
    assert set(variants) >= {"dense", "thinned", "sparse"}
    for name, model in variants.items():
        assert not scaled_modules(model), name
    dense_state = load_checkpoint(sss_run / "checkpoints" / "dense.pt")
    scaled_dense = build_from_spec(dense_state["model_spec"])
    scaled_dense.load_state_dict(dense_state["model"])
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(variants["dense"](x), scaled_dense.eval()(x), atol=1e-5)
        assert torch.allclose(variants["sparse"](x), variants["thinned"](x), atol=1e-4)
