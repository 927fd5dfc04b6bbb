"""The mask store keeps pruned weights at zero (compressor/engine/masks.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compressor.engine.masks import MaskStore


def _net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 7))


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
