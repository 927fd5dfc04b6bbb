"""Regularizer penalties against their definitions (compressor/engine/regularizers.py)."""

from __future__ import annotations

import torch
from torch import nn


def _net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 7))


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
