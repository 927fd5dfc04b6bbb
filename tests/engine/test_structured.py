"""Structured pruners: group scores, global ranking, whole conv groups
(compressor/engine/pruning/structured.py)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from compressor.engine.pruning.structured import StructuredPruner, group_scores
from compressor.graph import find_groups
from compressor.models import build_model

from ..helpers import apply_masks


def test_group_scores_sum_members_and_global_ranking():
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=32).eval()
    groups = [g for g in find_groups(model, torch.zeros(1, 3, 32, 32)) if g.prunable]
    residual = next(g for g in groups if any(m.name == "layer1.0.conv2.weight" for m in g.members))
    expected = sum(dict(model.named_parameters())[m.name].detach().abs().flatten(1).sum(1).double()
                   for m in residual.members if m.role == "producer" and m.tensor == "weight")
    assert torch.allclose(group_scores(model, residual, "l1_filter"), expected)

    class Config:
        criterion, scope = "l1_filter", "global"

        @staticmethod
        def target(epoch, active):
            return 0.5

    pruner = StructuredPruner("p", Config(), model, groups)
    masks = pruner.compute_masks(0, [0])
    total = sum(g.channels for g in groups)
    pruned = sum(int((~masks[n]).flatten(1).all(1).sum()) for n in masks
                 if n.endswith("conv2.weight") or n.endswith("conv1.weight") or "downsample.0.weight" in n)
    assert pruned > 0 and total > 0


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_pruner_removes_whole_conv_groups_of_grouped_convs(scope):
    """ResNeXt: groups through a grouped 3x3 conv are ranked in blocks of 4 channels;
    the pruned channels are whole conv groups, which thinning then removes."""
    from compressor.engine.thinning import plan_thinning, thin_model

    torch.manual_seed(0)
    model = torchvision.models.resnext50_32x4d(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    all_groups = find_groups(model, x)
    groups = [g for g in all_groups if g.prunable]
    assert sum(g.granularity == 4 for g in groups) >= 3

    class Config:
        criterion = "l1_filter"

        @staticmethod
        def target(epoch, active):
            return 0.3

    Config.scope = scope
    pruner = StructuredPruner("p", Config(), model, groups)
    masks = pruner.compute_masks(0, [0])
    total = 0
    for g, pruned in zip(groups, pruner._pruned(0.3)):
        w = g.granularity
        assert len(pruned) % w == 0 and all(int(c) % w == 0 for c in pruned[::w])
        assert all(pruned[i + j] == pruned[i] + j for i in range(0, len(pruned), w) for j in range(w))
        if scope == "layer":
            assert len(pruned) == int(0.3 * g.channels / w) * w
        total += len(pruned)
    if scope == "global":
        assert total == int(0.3 * sum(g.channels for g in groups))
    apply_masks(model, masks)
    with torch.no_grad():
        masked = model(x)
    plan = plan_thinning(model, all_groups, masks=masks)
    assert plan.channels_removed == total
    thin_model(model, plan)
    with torch.no_grad():
        torch.testing.assert_close(model(x), masked, rtol=0, atol=1e-4)
    assert model.layer1[0].conv2.groups * 4 == model.layer1[0].conv2.out_channels
