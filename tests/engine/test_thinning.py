"""Physical thinning: plans, module resizing, recipes, MACs (compressor/engine/thinning/)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torchvision
from torch import nn

from compressor.engine.masks import MaskStore
from compressor.engine.thinning import (
    TOTAL,
    ThinningError,
    apply_recipe,
    count_macs,
    plan_thinning,
    thin_model,
    thinning_recipe,
)
from compressor.graph import ChannelGroup, find_groups, group_zero_masks
from compressor.models import build_model

from ..helpers import apply_masks, combine_masks

# ---- models --------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # the machine is shared; conftest restores the thread count


def mnist_net() -> nn.Module:
    return build_model("mnist_net", num_classes=10, in_channels=1, image_size=28)


def torchvision_model(name: str) -> nn.Module:
    return getattr(torchvision.models, name)(weights=None)


def randomize_batchnorm(model: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial statistics and affine parameters, so batchnorm is not an identity."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-1, 1, generator=gen)
                m.running_var.uniform_(0.5, 2, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)


def prune_groups(model: nn.Module, groups: list[ChannelGroup], fraction: float,
                 gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Zero a random ``fraction`` of the channels of every prunable group (of its blocks
    of ``granularity`` channels: whole conv groups of a grouped conv); the masks."""
    masks: dict[str, torch.Tensor] = {}
    for group in groups:
        if group.prunable:
            w = group.granularity
            blocks = torch.randperm(group.channels // w, generator=gen)[:pruned_blocks(group, fraction)]
            pruned = (blocks.reshape(-1, 1) * w + torch.arange(w)).reshape(-1)
            combine_masks(masks, group_zero_masks(model, group, pruned))
    apply_masks(model, masks)
    return masks


def pruned_blocks(group: ChannelGroup, fraction: float) -> int:
    return int(group.channels // group.granularity * fraction)


MODELS = {
    "mnist_net": (mnist_net, (2, 1, 28, 28)),
    "resnet18": (lambda: torchvision_model("resnet18"), (1, 3, 64, 64)),
    "resnet50": (lambda: torchvision_model("resnet50"), (1, 3, 64, 64)),
    "mobilenet_v2": (lambda: torchvision_model("mobilenet_v2"), (1, 3, 64, 64)),
    "densenet121": (lambda: torchvision_model("densenet121"), (1, 3, 64, 64)),
    "resnext50_32x4d": (lambda: torchvision_model("resnext50_32x4d"), (1, 3, 64, 64)),
}


@pytest.mark.parametrize("arch", list(MODELS))
def test_thinning_is_exact(arch):
    build, shape = MODELS[arch]
    gen = torch.Generator().manual_seed(0)
    model = build().double().eval()
    randomize_batchnorm(model, gen)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    groups = find_groups(model, x)
    masks = prune_groups(model, groups, 0.3, gen)
    with torch.no_grad():
        masked = model(x)
    before = count_macs(model, x)[TOTAL]
    plan = plan_thinning(model, groups, masks=masks)
    assert all(len(plan.keep[g.id]) == g.channels - pruned_blocks(g, 0.3) * g.granularity
               for g in groups if g.prunable)
    thin_model(model, plan)
    with torch.no_grad():
        thinned = model(x)
    torch.testing.assert_close(thinned, masked, rtol=0, atol=1e-10)
    after = count_macs(model, x)[TOTAL]
    assert after["params"] == sum(p.numel() for p in model.parameters()) < before["params"]
    assert after["macs"] < 0.75 * before["macs"]


@pytest.mark.parametrize("arch", ["mnist_net", "resnet18", "mobilenet_v2", "densenet121",
                                  "resnext50_32x4d"])
def test_thinning_is_exact_in_training_mode(arch):
    """BatchNorm on batch statistics: a removed channel was zero before and after its
    BatchNorm (γ = β = 0), so the training-mode outputs and the kept channels' updated
    running statistics are the same (dropout off: its random masks follow the shapes)."""
    build, shape = MODELS[arch]
    gen = torch.Generator().manual_seed(1)
    model = build().double()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    randomize_batchnorm(model, gen)
    x = torch.randn((4, *shape[1:]), generator=gen, dtype=torch.float64)
    groups = find_groups(model, x[:1])
    masks = prune_groups(model, groups, 0.3, gen)
    thinned = copy.deepcopy(model)
    thin_model(thinned, plan_thinning(thinned, groups, masks=masks))
    model.train()
    thinned.train()
    torch.testing.assert_close(thinned(x), model(x), rtol=0, atol=1e-9)
    recipe = thinning_recipe(thinned)["modules"]
    checked = 0
    for name, m in thinned.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and "keep_out" in recipe.get(name, {}):
            keep = torch.tensor(recipe[name]["keep_out"])
            dense = model.get_submodule(name)
            torch.testing.assert_close(m.running_mean, dense.running_mean[keep], rtol=0, atol=1e-9)
            torch.testing.assert_close(m.running_var, dense.running_var[keep], rtol=0, atol=1e-9)
            checked += 1
    assert checked > 0 or arch == "mnist_net"


def test_mnist_flatten_to_linear():
    model = mnist_net().eval()
    groups = find_groups(model, torch.randn(1, 1, 28, 28))
    conv2 = next(g for g in groups if "conv2" in g.modules("producer"))
    pruned = list(range(0, 64, 5))[:12]
    masks = group_zero_masks(model, conv2, pruned)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in masks:
                param.mul_(masks[name])
        masked = model(x)
    recipe = thin_model(model, plan_thinning(model, groups))
    assert model.conv2.out_channels == 52 and model.fc1.in_features == 52 * 12 * 12 == 7488
    assert model.fc1.weight.shape == (128, 7488)
    kept = [c for c in range(64) if c not in pruned]
    assert recipe["modules"]["conv2"]["keep_out"] == kept
    assert recipe["modules"]["fc1"]["keep_in"] == [c * 144 + j for c in kept for j in range(144)]
    assert set(recipe["modules"]) == {"conv2", "fc1"}
    with torch.no_grad():
        torch.testing.assert_close(model(x), masked, rtol=1e-5, atol=1e-5)


def test_count_macs_formulas():
    model = mnist_net()
    x = torch.randn(4, 1, 28, 28)
    counts = count_macs(model, x)
    assert counts["conv1"] == {"macs": 26 * 26 * 32 * 1 * 9, "params": 32 * 9 + 32}
    assert counts["conv2"] == {"macs": 24 * 24 * 64 * 32 * 9, "params": 64 * 32 * 9 + 64}
    assert counts["fc1"] == {"macs": 9216 * 128, "params": 9216 * 128 + 128}
    assert counts["fc2"]["macs"] == 128 * 10
    assert set(counts) == {"conv1", "conv2", "fc1", "fc2", TOTAL}
    assert counts[TOTAL] == {"macs": sum(counts[n]["macs"] for n in ("conv1", "conv2", "fc1",
                                                                       "fc2")),
                             "params": sum(p.numel() for p in model.parameters())}
    assert model.training  # modes restored
    groups = find_groups(model, x)
    prune_groups(model, groups, 0.25, torch.Generator().manual_seed(0))
    thin_model(model, plan_thinning(model, groups))
    thinned = count_macs(model, x)
    assert thinned["conv2"]["macs"] == 24 * 24 * 48 * 24 * 9
    assert thinned["fc1"]["macs"] == 48 * 144 * 96


def test_count_macs_depthwise():
    model = nn.Sequential(nn.Conv2d(8, 8, 3, groups=8, padding=1), nn.BatchNorm2d(8))
    counts = count_macs(model, torch.randn(2, 8, 5, 5))
    assert counts["0"]["macs"] == 5 * 5 * 8 * 1 * 9
    assert counts["1"] == {"macs": 0, "params": 16}


def test_plan_uses_masks_and_values():
    model = mnist_net()
    groups = find_groups(model, torch.randn(1, 1, 28, 28))
    conv1 = next(g for g in groups if "conv1" in g.modules("producer"))
    masks = group_zero_masks(model, conv1, [1, 2])
    plan = plan_thinning(model, groups)  # nothing zero yet
    assert all(len(k) == plan.groups[g].channels for g, k in plan.keep.items())
    plan = plan_thinning(model, groups, masks=masks)  # masked but not yet applied
    assert plan.removed(conv1.id).tolist() == [1, 2] and plan.channels_removed == 2
    assert plan.to_dict() == {str(conv1.id): {"channels": 32, "kept": 30, "removed": [1, 2]}}
    with torch.no_grad():  # zero by value: the weights alone are enough
        model.conv1.weight[5] = 0
        model.conv1.bias[5] = 0
    assert plan_thinning(model, groups).removed(conv1.id).tolist() == [5]
    everything = group_zero_masks(model, conv1, range(32))
    assert len(plan_thinning(model, groups, masks=everything).keep[conv1.id]) == 1
    assert len(plan_thinning(model, groups, masks=everything, min_channels=4).keep[conv1.id]) == 4


def thin_randomly(model: nn.Module, x: torch.Tensor, fraction: float, seed: int, **kwargs):
    groups = find_groups(model, x)
    masks = prune_groups(model, groups, fraction, torch.Generator().manual_seed(seed))
    return thin_model(model, plan_thinning(model, groups, masks=masks), **kwargs)


def test_recipe_round_trip_through_checkpoint(tmp_path):
    model = torchvision_model("resnet18").eval()
    randomize_batchnorm(model, torch.Generator().manual_seed(3))
    x = torch.randn(2, 3, 32, 32)
    recipe = thin_randomly(model, x, 0.4, seed=1)
    json.dumps(recipe)  # plain data
    path = tmp_path / "thin.pt"
    torch.save({"model": model.state_dict(), "thinning": recipe}, path)
    checkpoint = torch.load(path, weights_only=True)
    fresh = apply_recipe(torchvision_model("resnet18").eval(), checkpoint["thinning"])
    fresh.load_state_dict(checkpoint["model"])
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    assert thinning_recipe(fresh) == recipe
    assert fresh.layer1[0].conv1.weight.shape == model.layer1[0].conv1.weight.shape


def test_repeated_thinning_composes():
    model = mnist_net().eval()
    dense_conv2 = model.conv2.weight.detach().clone()
    x = torch.randn(2, 1, 28, 28)
    first = thin_randomly(model, x, 0.25, seed=1)
    second = thin_randomly(model, x, 0.5, seed=2)
    assert model.conv2.out_channels == 24 and model.fc1.in_features == 24 * 144
    kept = second["modules"]["conv2"]["keep_out"]
    assert set(kept) < set(first["modules"]["conv2"]["keep_out"])  # relative to the dense model
    torch.testing.assert_close(model.conv2.weight[:, :, 0, 0],
                               dense_conv2[kept][:, second["modules"]["conv2"]["keep_in"], 0, 0])
    fresh = apply_recipe(mnist_net().eval(), second)
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_mobilenet_recipe_sets_depthwise_groups():
    model = torchvision_model("mobilenet_v2").eval()
    recipe = thin_randomly(model, torch.randn(1, 3, 32, 32), 0.5, seed=0)
    entry = recipe["modules"]["features.2.conv.1.0"]
    assert entry["groups"] == len(entry["keep_out"]) == 48 and "keep_in" not in entry
    conv = model.features[2].conv[1][0]
    assert conv.groups == conv.in_channels == conv.out_channels == 48
    fresh = apply_recipe(torchvision_model("mobilenet_v2"), recipe)
    fresh.load_state_dict(model.state_dict())


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_optimizer_state_is_sliced(opt):
    model = mnist_net()
    optimizer = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=1e-3))
    x, y = torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,))
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    old_conv2, old_module = model.conv2.weight, model.conv2
    old_state = {k: v.clone() for k, v in optimizer.state[old_conv2].items()}
    recipe = thin_randomly(model, x, 0.25, seed=4, optimizer=optimizer)
    params = list(model.parameters())
    # the module is resized in place (same object); the optimizer holds the new parameters
    assert model.conv2 is old_module and model.conv2.weight.shape[0] == model.conv2.out_channels < 64
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == [id(p) for p in params]
    assert old_conv2 not in optimizer.state
    state = optimizer.state[model.conv2.weight]
    keep_out = torch.tensor(recipe["modules"]["conv2"]["keep_out"])
    keep_in = torch.tensor(recipe["modules"]["conv2"]["keep_in"])
    for key in ("momentum_buffer",) if opt == "sgd" else ("exp_avg", "exp_avg_sq"):
        assert torch.equal(state[key], old_state[key][keep_out][:, keep_in])
    if opt == "adam":
        assert torch.equal(state["step"], old_state["step"])
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()  # runs with the sliced state
    assert optimizer.state[model.fc1.weight][key].shape == model.fc1.weight.shape


def test_masks_are_sliced():
    model = mnist_net()
    x = torch.randn(2, 1, 28, 28)
    store = MaskStore(model)
    store.set("fc1.weight", torch.rand(128, 9216) > 0.5)
    old = store.state_dict()["fc1.weight"].clone()
    groups = find_groups(model, x)
    prune_groups(model, groups, 0.25, torch.Generator().manual_seed(0))
    plan = plan_thinning(model, groups)
    recipe = thin_model(model, plan, masks=store)
    keep_in = torch.tensor(recipe["modules"]["fc1"]["keep_in"])
    keep_out = torch.tensor(recipe["modules"]["fc1"]["keep_out"])
    sliced = old[keep_out][:, keep_in]
    assert torch.equal(store.state_dict()["fc1.weight"], sliced)
    store.apply()  # bound to the new parameters
    assert not model.fc1.weight[~sliced].any()


def test_dict_masks_are_sliced_in_place():
    model = mnist_net()
    x = torch.randn(2, 1, 28, 28)
    groups = find_groups(model, x)
    masks = prune_groups(model, groups, 0.25, torch.Generator().manual_seed(0))
    masks["fc2.weight"] = torch.ones(10, 128, dtype=torch.bool)
    recipe = thin_model(model, plan_thinning(model, groups, masks=masks), masks=masks)
    assert masks["conv2.weight"].shape == model.conv2.weight.shape and masks["conv2.weight"].all()
    assert masks["fc2.weight"].shape == (10, len(recipe["modules"]["fc2"]["keep_in"]))


def test_apply_recipe_rejects_mismatches():
    model = mnist_net()
    recipe = thin_randomly(model, torch.randn(1, 1, 28, 28), 0.25, seed=0)
    with pytest.raises(ThinningError, match="already thinned"):
        apply_recipe(model, recipe)
    with pytest.raises(ThinningError, match=r"module 'conv\d' is not in the model"):
        apply_recipe(nn.Sequential(), recipe)
    small = build_model("mnist_net", num_classes=10, in_channels=1, image_size=28, hidden=64)
    with pytest.raises(ThinningError, match="'fc1'.*expects out=128, the model has 64"):
        apply_recipe(small, recipe)
    with pytest.raises(ThinningError, match="not a thinning recipe"):
        apply_recipe(mnist_net(), {"modules": {}})
    bad = {**recipe, "modules": {"conv2": {**recipe["modules"]["conv2"], "keep_out": [0, 64]}}}
    with pytest.raises(ThinningError, match=r"keep_out must hold distinct indices in \[0, 64\)"):
        apply_recipe(mnist_net(), bad)


def test_stale_groups_are_rejected():
    model = mnist_net()
    x = torch.randn(1, 1, 28, 28)
    groups = find_groups(model, x)
    prune_groups(model, groups, 0.5, torch.Generator().manual_seed(0))
    thin_model(model, plan_thinning(model, groups))
    with pytest.raises(ValueError, match="re-run find_groups"):
        plan_thinning(model, groups)


def test_grouped_conv_loses_whole_conv_groups():
    """ResNeXt's 3x3 convs (32 groups of 4 channels, in == out) pass their input's group
    through: channels go in whole conv groups, ``groups`` follows, the recipe replays."""
    gen = torch.Generator().manual_seed(0)
    model = torchvision_model("resnext50_32x4d").eval()
    x = torch.randn(1, 3, 64, 64, generator=gen)
    groups = find_groups(model, x)
    group = next(g for g in groups if any(m.module == "layer1.0.conv2" for m in g.members))
    assert group.prunable and group.granularity == 4 and group.channels == 128
    assert {"layer1.0.conv1", "layer1.0.conv2"} <= set(group.modules("producer"))
    assert group.modules("consumer") == ["layer1.0.conv3"] and "layer1.0.conv2" in group.depthwise
    # zero conv group 3 (channels 12-15) and half of conv group 5 (channels 20, 21)
    masks = group_zero_masks(model, group, [12, 13, 14, 15, 20, 21])
    apply_masks(model, masks)
    with torch.no_grad():
        masked = model(x)
    plan = plan_thinning(model, groups, masks=masks)
    assert plan.removed(group.id).tolist() == [12, 13, 14, 15]  # the half group stays
    recipe = thin_model(model, plan)
    conv2 = model.layer1[0].conv2
    assert (conv2.in_channels, conv2.out_channels, conv2.groups) == (124, 124, 31)
    assert recipe["modules"]["layer1.0.conv2"]["groups"] == 31
    with torch.no_grad():
        torch.testing.assert_close(model(x), masked, rtol=0, atol=1e-5)
    fresh = apply_recipe(torchvision_model("resnext50_32x4d").eval(), recipe)
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), masked, rtol=0, atol=1e-5)


def test_grouped_conv_with_different_in_and_out_is_not_prunable():
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 16, 3, groups=4), nn.Conv2d(16, 4, 1))
    groups = find_groups(model, torch.zeros(1, 3, 8, 8))
    into, out_of = (next(g for g in groups if any(m.module == name and m.role == "producer"
                                                  for m in g.members)) for name in ("0", "1"))
    assert not into.prunable and "grouped conv (groups=4, 8 → 16 channels)" in into.reason
    assert not out_of.prunable  # removing its filters would unbalance the conv groups too
