"""Sparsity schedules, magnitude pruners and the mask store against torch references."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from compressor.engine.masks import MaskStore
from compressor.engine.pruning import Pruner
from compressor.schedule import ramps as ss
from compressor.schedule.pruners import AGPConfig, IterativeConfig, LevelConfig


def test_agp_is_zhu_gupta_cubic():
    active = list(range(2, 7))  # epochs 2..6
    values = [ss.polynomial(e, active, 0.05, 0.85, 3.0) for e in active]
    for e, v in zip(active, values):
        expected = 0.85 + (0.05 - 0.85) * (1 - (e - 2) / 4) ** 3
        assert v == pytest.approx(expected)
    assert values[0] == pytest.approx(0.05) and values[-1] == pytest.approx(0.85)
    assert all(a < b for a, b in zip(values, values[1:]))
    assert ss.polynomial(3, [3], 0.0, 0.7, 3.0) == 0.7  # a one-epoch window prunes to final


@pytest.mark.parametrize("initial", [0.0, 0.5])
@pytest.mark.parametrize("power", [1.0, 2.0, 3.0])
def test_polynomial_decay_initial_and_power(initial, power):
    active = [0, 2, 4, 6, 8]
    mid = ss.polynomial(4, active, initial, 0.9, power)
    assert mid == pytest.approx(0.9 + (initial - 0.9) * 0.5 ** power)
    assert ss.polynomial(0, active, initial, 0.9, power) == pytest.approx(initial)


def test_iterative_steps():
    active = [0, 2, 4, 6]
    assert [ss.iterative(e, active, 0.2, 0.8) for e in range(8)] == pytest.approx(
        [0.2, 0.2, 0.4, 0.4, 0.6, 0.6, 0.8, 0.8])
    assert ss.iterative(6, active, 0.3, 0.8) == 0.8  # capped at the target
    assert ss.iterative_steps_needed(0.2, 0.8) == 4 and ss.iterative_steps_needed(0.3, 0.8) == 3


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
    pruner = _pruner(LevelConfig(weights={"0.weight": 0.25, "2.weight": 0.5}), model, ["0.weight", "2.weight"])
    masks = pruner.compute_masks(0, [0])
    assert (~masks["0.weight"]).sum() == 150 and (~masks["2.weight"]).sum() == 105
    it = _pruner(IterativeConfig(weights=["0.weight"], step=0.2, final_sparsity=0.8), model, ["0.weight"])
    assert it.targets(3, [0, 2, 4, 6]) == {"0.weight": pytest.approx(0.4)}


def test_mask_store_keeps_pruned_weights_zero_through_momentum():
    model = _net()
    store = MaskStore(model)
    mask = torch.rand(30, 20) > 0.5
    store.set("0.weight", mask)
    store.apply()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=1e-3)
    x, y = torch.randn(16, 20), torch.randint(0, 7, (16,))
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        revived = (model[0].weight.data[~mask] != 0).any().item()
        store.apply()
        assert (model[0].weight.data[~mask] == 0).all()
    assert revived, "momentum should have moved pruned weights before re-application"
    assert (model[0].weight.data[mask] != 0).all()


def test_mask_store_rejects_bad_masks_and_state():
    from compressor.errors import CheckpointError

    store = MaskStore(_net())
    with pytest.raises(ValueError, match="mask for '0.weight' must be a bool tensor of shape"):
        store.set("0.weight", torch.ones(20, 30, dtype=torch.bool))
    with pytest.raises(CheckpointError, match="'9.weight', which the model does not have"):
        store.load_state_dict({"9.weight": torch.ones(2, dtype=torch.bool)})
    with pytest.raises(CheckpointError, match="has shape"):
        store.load_state_dict({"0.weight": torch.ones(2, dtype=torch.bool)})


def test_group_lasso_penalty_matches_reference():
    from compressor.engine.regularizers import Regularizer
    from compressor.schedule.regularizers import GroupLassoConfig

    model = _net()
    params = dict(model.named_parameters())
    for structure, dim in (("filter", 0), ("channel", 1)):
        reg = Regularizer("g", GroupLassoConfig(weights=["0.weight"], strength=0.5, structure=structure),
                          ["0.weight"], params)
        w = model[0].weight
        expected = 0.5 * w.transpose(0, dim).flatten(1).norm(dim=1).sum()
        assert torch.allclose(reg.penalty(), expected)
        reg.penalty().backward()  # differentiable
