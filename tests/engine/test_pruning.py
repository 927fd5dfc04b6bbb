"""Magnitude pruners against torch.nn.utils.prune (compressor/engine/pruning/pruners.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from compressor.engine.pruning import Pruner
from compressor.schedule.pruners import AGPConfig, IterativeConfig, LevelConfig


def _net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 7))


def _pruner(config, model, names):
    params = dict(model.named_parameters())
    return Pruner("p", config, {n: n for n in names}, params)


def test_layer_pruner_matches_torch_l1_unstructured():
    model = _net()
    config = AGPConfig(weights=["*.weight"], initial_sparsity=0.1, final_sparsity=0.6)
    pruner = _pruner(config, model, ["0.weight", "2.weight"])
    masks = pruner.compute_masks(epoch=4, active=[0, 2, 4])
    for name, module in (("0.weight", model[0]), ("2.weight", model[2])):
        clone = nn.Linear(module.in_features, module.out_features)
        clone.weight.data.copy_(module.weight.data)
        prune.l1_unstructured(clone, "weight", amount=round(0.6 * clone.weight.numel()))
        assert torch.equal(masks[name], clone.weight_mask.bool()), name


def test_global_pruner_matches_torch_global_unstructured():
    model = _net()
    config = LevelConfig(weights=["*.weight"], sparsity=0.7, scope="global")
    pruner = _pruner(config, model, ["0.weight", "2.weight"])
    masks = pruner.compute_masks(epoch=0, active=[0])
    twin = _net()
    k = round(0.7 * (600 + 210))
    prune.global_unstructured([(twin[0], "weight"), (twin[2], "weight")],
                              pruning_method=prune.L1Unstructured, amount=k)
    assert torch.equal(masks["0.weight"], twin[0].weight_mask.bool())
    assert torch.equal(masks["2.weight"], twin[2].weight_mask.bool())
    # global ranking leaves the layers at different sparsities
    s0 = 1 - masks["0.weight"].float().mean().item()
    s2 = 1 - masks["2.weight"].float().mean().item()
    assert s0 != pytest.approx(s2)


def test_fixed_levels_per_pattern_and_iterative_targets():
    model = _net()
    config = LevelConfig(weights={"0.weight": 0.25, "2.weight": 0.5})
    pruner = _pruner(config, model, ["0.weight", "2.weight"])
    masks = pruner.compute_masks(0, [0])
    assert (~masks["0.weight"]).sum() == 150 and (~masks["2.weight"]).sum() == 105
    it = _pruner(IterativeConfig(weights=["0.weight"], step=0.2, final_sparsity=0.8), model, ["0.weight"])
    assert it.targets(3, [0, 2, 4, 6]) == {"0.weight": pytest.approx(0.4)}
