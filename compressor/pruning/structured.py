"""Structured pruning: whole channels (filters, input channels, neurons) chosen per
dependency group, so every tensor that shares a channel drops the same indices.

Criteria (the ``criterion`` key of a pruner):

``l1_filter`` / ``l2_filter``  L1 / L2 norm of the output filters (Conv2d) or rows (Linear)
``fpgm``                       distance sum to the other filters (Filter Pruning via the
                               Geometric Median): the filters nearest the median go first
``l1_channel`` / ``l2_channel`` norm of the input channels of the matched consumers
``neuron``                     L2 norm of Linear rows (output neurons)
``bn_scale``                   |γ| of the matched BatchNorm (network slimming)

Patterns choose *which groups*: a filter/neuron criterion wants producer weights, a
channel criterion consumer weights, ``bn_scale`` BatchNorm weights. A group's score
sums the scores of all its members of that role; ``floor(sparsity × channels)``
channels with the lowest scores are zeroed in every producer weight and bias and every
BatchNorm γ and β of the group, which makes them removable by thinning. With
``scope: global`` each group's scores are divided by their mean and one ranking runs
across groups. At least one channel per group is always kept.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..graph import ChannelGroup, group_param_slices, group_zero_masks
from ..schedule.problems import Problems
from . import criteria_ops

FILTER_CRITERIA = ("l1_filter", "l2_filter", "fpgm", "neuron")
CHANNEL_CRITERIA = ("l1_channel", "l2_channel")
STRUCTURED_CRITERIA = (*FILTER_CRITERIA, *CHANNEL_CRITERIA, "bn_scale")

# which member role a criterion's patterns name, and which tensor of it
_ROLE = {**{c: ("producer", "weight") for c in FILTER_CRITERIA},
         **{c: ("consumer", "weight") for c in CHANNEL_CRITERIA},
         "bn_scale": ("batchnorm", "weight")}


def _member_score(criterion: str, values: torch.Tensor) -> torch.Tensor:
    if criterion in ("l1_filter", "l1_channel"):
        return criteria_ops.structure_norms(values, 0, 1).double()
    if criterion in ("l2_filter", "l2_channel", "neuron"):
        return criteria_ops.structure_norms(values, 0, 2).double()
    if criterion == "fpgm":
        return criteria_ops.fpgm_scores(values).double()
    return values.abs().reshape(values.shape[0], -1).sum(1).double()  # bn_scale: |γ|


def group_scores(model: nn.Module, group: ChannelGroup, criterion: str) -> torch.Tensor:
    """One score per channel of ``group`` (float64), summed over its members."""
    role, tensor = _ROLE[criterion]
    total = torch.zeros(group.channels, dtype=torch.float64)
    for part in group_param_slices(model, group, roles=(role,)):
        if part.member.tensor == tensor:
            total += _member_score(criterion, part.values)
    return total


class StructuredPruner:
    """A configured channel pruner bound to the model's dependency groups."""

    def __init__(self, name: str, config, model: nn.Module, groups: list[ChannelGroup]) -> None:
        self.name = name
        self.config = config
        self.model = model
        self.groups = groups
        self.group_descriptions = [g.describe() for g in groups]  # kept for reports
        names: dict[str, None] = {}
        for g in groups:
            for m in g.members:
                if m.role in ("producer", "batchnorm") and m.name in dict(model.named_parameters()):
                    names[m.name] = None
        self.param_names = list(names)

    def rebind(self, params: dict[str, nn.Parameter]) -> None:
        """Thinning replaced the tensors; the schedule forbids pruning again afterwards,
        so the (now stale) groups are never used again."""
        self.groups = []

    def targets(self, epoch: int, active: Sequence[int]) -> dict[str, float]:
        level = self.config.target(epoch, active)
        return {n: level for n in self.param_names}

    def _pruned(self, level: float) -> list[torch.Tensor]:
        criterion = self.config.criterion
        scores = [group_scores(self.model, g, criterion) for g in self.groups]
        if self.config.scope == "global" and len(scores) > 1:
            normed = [s / s.mean().clamp_min(1e-30) for s in scores]
            total = sum(len(s) for s in normed)
            k = math.floor(level * total)
            flat = torch.cat(normed)
            owner = torch.cat([torch.full((len(s),), i) for i, s in enumerate(normed)]).tolist()
            offsets = [0]
            for s in normed[:-1]:
                offsets.append(offsets[-1] + len(s))
            order = torch.argsort(flat, stable=True)
            pruned: list[list[int]] = [[] for _ in scores]
            taken = 0
            for idx in order.tolist():
                if taken == k:
                    break
                g = owner[idx]
                offset = offsets[g]
                if len(pruned[g]) < len(scores[g]) - 1:  # keep one channel per group
                    pruned[g].append(idx - offset)
                    taken += 1
            return [torch.tensor(sorted(p), dtype=torch.int64) for p in pruned]
        out = []
        for s in scores:
            k = min(math.floor(level * len(s)), len(s) - 1)
            out.append(torch.sort(torch.argsort(s, stable=True)[:k]).values)
        return out

    @torch.no_grad()
    def compute_masks(self, epoch: int, active: Sequence[int]) -> dict[str, torch.Tensor]:
        level = self.config.target(epoch, active)
        masks: dict[str, torch.Tensor] = {}
        for group, pruned in zip(self.groups, self._pruned(level)):
            for name, mask in group_zero_masks(self.model, group, pruned).items():
                masks[name] = masks[name] & mask if name in masks else mask
        return masks


def resolve_groups(criterion: str, chosen: Sequence[str], groups: list[ChannelGroup],
                   line: int, key: str, problems: Problems) -> list[ChannelGroup]:
    """The groups holding the chosen tensors in the role the criterion needs."""
    role, tensor = _ROLE[criterion]
    out: dict[int, ChannelGroup] = {}
    for name in chosen:
        found = [g for g in groups for m in g.members
                 if m.name == name and m.role == role and m.tensor == tensor]
        if not found:
            what = {"producer": "an output-channel producer (Conv2d/Linear weight)",
                    "consumer": "a channel consumer (Conv2d/Linear weight)",
                    "batchnorm": "a BatchNorm weight"}[role]
            problems.add(line, f"{key}.weights",
                         f"{name!r} is not {what}, which criterion {criterion!r} needs")
            continue
        for g in found:
            if not g.prunable:
                problems.add(line, f"{key}.weights",
                             f"{name!r}: its channels cannot be pruned ({g.reason})")
            else:
                out[g.id] = g
    return list(out.values())
