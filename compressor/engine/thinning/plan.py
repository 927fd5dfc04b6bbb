"""Which channels can be removed: :func:`plan_thinning` → :class:`ThinningPlan`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...graph.groups import ChannelGroup, group_param_slices
from ...nn.scaling import SCALE
from ..masks import MaskStore

__all__ = ["ThinningPlan", "mask_dict", "plan_thinning"]

Masks = MaskStore | Mapping[str, torch.Tensor]


@dataclass
class ThinningPlan:
    """Kept channels per group.

    Attributes:
        groups: the groups the plan was made from (``find_groups`` on the same model).
        keep: group id → sorted int64 indices of the channels to keep, for every prunable
            group (all indices when nothing can be removed). Groups not listed keep all.
    """

    groups: list[ChannelGroup]
    keep: dict[int, torch.Tensor]

    def removed(self, group_id: int) -> torch.Tensor:
        """Sorted int64 indices of the channels of a group to remove."""
        group = self.groups[group_id]
        kept = torch.zeros(group.channels, dtype=torch.bool)
        kept[self.keep.get(group_id, torch.arange(group.channels))] = True
        return (~kept).nonzero().reshape(-1)

    @property
    def channels_removed(self) -> int:
        return sum(self.groups[g].channels - len(k) for g, k in self.keep.items())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for reports: per group with removals, its size and removed indices."""
        return {str(g): {"channels": self.groups[g].channels, "kept": len(k),
                         "removed": self.removed(g).tolist()}
                for g, k in self.keep.items() if len(k) < self.groups[g].channels}


def mask_dict(masks: Masks | None) -> dict[str, torch.Tensor]:
    """``{parameter name: bool mask}`` from a MaskStore, a mapping or None."""
    return {} if masks is None else dict(masks.items())


def plan_thinning(model: nn.Module, groups: list[ChannelGroup], *,
                  masks: Masks | None = None, min_channels: int = 1) -> ThinningPlan:
    """The channels of each prunable group that contribute exactly nothing downstream.

    A channel is removable when, in every producer (weight slice and bias) and every
    batchnorm weight and bias of its group, each entry is zero or pruned by ``masks``
    (True = keep; parameters without a mask are judged by their values alone). Such a
    channel is zero wherever it is consumed, so removing it leaves the output unchanged
    (in eval mode). A group with ``granularity`` > 1 (grouped convs) loses only whole
    aligned blocks of that many channels. At least ``min_channels`` channels of each
    group are kept (the lowest-indexed removable ones), so no layer is left empty.

    Raises:
        ValueError: the groups do not fit the model (found on another model: re-run
            ``find_groups`` after thinning), or ``min_channels`` < 1.
    """
    if min_channels < 1:
        raise ValueError(f"min_channels must be >= 1, got {min_channels}")
    all_masks = mask_dict(masks)
    params = dict(model.named_parameters())
    keep: dict[int, torch.Tensor] = {}
    for group in groups:
        if not group.prunable:
            continue
        zero = torch.ones(group.channels, dtype=torch.bool)
        for part in group_param_slices(model, group, roles=("producer", "batchnorm")):
            if part.name not in params or part.member.tensor == SCALE:
                # running statistics and scaling factors: they do not reach the output
                # when the weights and biases (γ = β) are zero
                continue
            entry_zero = part.values == 0
            mask = all_masks.get(part.name)
            if mask is not None:
                m = mask.to(part.values.device).movedim(part.member.axis, 0)
                m = m.narrow(0, part.member.offset, group.channels * part.member.block)
                entry_zero |= ~m.reshape(group.channels, -1)
            zero &= entry_zero.all(1)
        w = group.granularity
        if w > 1:  # whole conv groups only
            zero = zero.reshape(-1, w).all(1).repeat_interleave(w)
        removable = zero.nonzero().reshape(-1)
        spare = min_channels - (group.channels - len(removable))
        if spare > 0:
            removable = removable[math.ceil(spare / w) * w:]
        kept = torch.ones(group.channels, dtype=torch.bool)
        kept[removable] = False
        keep[group.id] = kept.nonzero().reshape(-1)
    return ThinningPlan(groups=list(groups), keep=keep)
