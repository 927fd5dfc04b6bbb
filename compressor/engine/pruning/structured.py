"""Structured pruning: whole channels (filters, input channels, neurons) chosen per
dependency group, so every tensor that shares a channel drops the same indices.

Criteria (the ``criterion`` key of a pruner):

``l1_filter`` / ``l2_filter``  L1 / L2 norm of the output filters (Conv2d) or rows (Linear)
``fpgm``                       distance sum to the other filters (Filter Pruning via the
                               Geometric Median): the filters nearest the median go first
``l1_channel`` / ``l2_channel`` norm of the input channels of the matched consumers
``neuron``                     L2 norm of Linear rows (output neurons)
``bn_scale``                   |γ| of the matched BatchNorm (network slimming)
``scaling_factor``             |scale| of learned scaling factors (``model.scaling_factors``,
                               data-driven sparse structure selection; see compressor.nn.scaling)

Patterns choose *which groups*: a filter/neuron criterion wants producer weights, a
channel criterion consumer weights, ``bn_scale`` BatchNorm weights, ``scaling_factor``
the ``scale`` parameters of scaled modules. A group's score
sums the scores of all its members of that role; ``floor(sparsity × channels)``
channels with the lowest scores are zeroed in every producer weight and bias and every
BatchNorm γ and β of the group, which makes them removable by thinning. With
``scope: global`` each group's scores are divided by their mean and one ranking runs
across groups. At least one channel per group is always kept. A group that passes
through a grouped conv loses whole conv groups: its channels are ranked in blocks of
``granularity`` (block score = sum), and ``floor(sparsity × blocks)`` blocks go.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ... import ops
from ...graph import ChannelGroup, find_groups, group_param_slices, group_zero_masks
from ...nn.scaling import SCALE
from ...schedule.problems import Problems
from ...schedule.pruners import CHANNEL_CRITERIA, FILTER_CRITERIA
from ..thinning.recipe import thinning_recipe
from ..thinning.resize import is_channel_grouped

# which member roles a criterion's patterns name, and which tensor of them
_ROLE = {**{c: (("producer",), "weight") for c in FILTER_CRITERIA},
         **{c: (("consumer",), "weight") for c in CHANNEL_CRITERIA},
         "bn_scale": (("batchnorm",), "weight"),
         "scaling_factor": (("producer", "batchnorm"), SCALE)}


def _member_score(criterion: str, values: torch.Tensor) -> torch.Tensor:
    if criterion in ("l1_filter", "l1_channel"):
        return ops.structure_norms(values, 0, 1).double()
    if criterion in ("l2_filter", "l2_channel", "neuron"):
        return ops.structure_norms(values, 0, 2).double()
    if criterion == "fpgm":
        return ops.fpgm_scores(values).double()
    return values.abs().reshape(values.shape[0], -1).sum(1).double()  # |γ|, |scale|


def group_scores(model: nn.Module, group: ChannelGroup, criterion: str) -> torch.Tensor:
    """One score per channel of ``group`` (float64), summed over its members."""
    roles, tensor = _ROLE[criterion]
    total = torch.zeros(group.channels, dtype=torch.float64)
    for part in group_param_slices(model, group, roles=roles):
        if part.member.tensor == tensor:
            total += _member_score(criterion, part.values)
    return total


def dense_channels(model: nn.Module, group: ChannelGroup, recipe: dict | None) -> int:
    """How many channels ``group`` had before any thinning: its (not channel-grouped)
    producer's output size in ``recipe`` (the model's thinning recipe), else its size now."""
    modules = (recipe or {}).get("modules", {})
    for m in group.members:
        if m.role == "producer" and m.tensor == "weight" and m.offset == 0 and m.block == 1 \
                and not is_channel_grouped(model.get_submodule(m.module)):
            entry = modules.get(m.module)
            return int(entry["out"]) if entry else group.channels
    return group.channels


class StructuredPruner:
    """A configured channel pruner bound to the model's dependency groups.

    Sparsity is relative to each group's channel count in the dense model, so a pruner
    that runs again after a thinning epoch prunes ``floor(sparsity × dense channels)``
    minus the channels thinning already removed (its groups are found again on the
    thinned model, from the example input)."""

    def __init__(self, name: str, config, model: nn.Module, groups: list[ChannelGroup],
                 chosen: Sequence[str] = (), example_input: torch.Tensor | None = None) -> None:
        self.name = name
        self.config = config
        self.model = model
        self.chosen = list(chosen)
        self.example_input = example_input
        self.group_descriptions = [g.describe() for g in groups]  # kept for reports
        self._set_groups(groups)
        names: dict[str, None] = {}
        for g in groups:
            for m in g.members:
                if m.role in ("producer", "batchnorm") and m.name in dict(model.named_parameters()):
                    names[m.name] = None
        self.param_names = list(names)

    def _set_groups(self, groups: list[ChannelGroup]) -> None:
        self._stale = False
        self.groups = groups
        recipe = thinning_recipe(self.model)
        self.dense_channels = [dense_channels(self.model, g, recipe) for g in groups]

    def rebind(self, params: dict[str, nn.Parameter]) -> None:
        """Thinning replaced the tensors: the groups are found again on the thinned model
        when this pruner next runs (never, if it does not)."""
        self._stale = True

    def _refresh_groups(self) -> None:
        if not self._stale:
            return
        self._stale = False
        if self.example_input is None:
            raise RuntimeError(f"structured pruner {self.name!r} was bound without an example "
                               "input, so it cannot find its groups again after thinning")
        problems = Problems("<thinned model>")
        groups = resolve_groups(self.config.criterion, self.chosen,
                                find_groups(self.model, self.example_input), 0, self.name, problems)
        if problems:
            raise RuntimeError(f"structured pruner {self.name!r} after thinning: "
                               + "; ".join(p.message for p in problems.items))
        self._set_groups(groups)

    def targets(self, epoch: int, active: Sequence[int]) -> dict[str, float]:
        level = self.config.target(epoch, active)
        return {n: level for n in self.param_names}

    def _pruned(self, level: float) -> list[torch.Tensor]:
        """The channels to zero in each group: whole blocks of ``granularity`` channels
        (single channels in most groups), lowest scores first; sparsity counts the
        dense model's channels, minus what thinning already removed."""
        self._refresh_groups()
        widths = [g.granularity for g in self.groups]
        units = [group_scores(self.model, g, self.config.criterion).reshape(-1, w).sum(1)
                 for g, w in zip(self.groups, widths)]
        removed = [dense - len(u) * w for u, w, dense in zip(units, widths, self.dense_channels)]
        if self.config.scope == "global" and len(units) > 1:
            normed = torch.cat([u / u.mean().clamp_min(1e-30) for u in units])
            owner = [g for g, u in enumerate(units) for _ in range(len(u))]
            first = [0]
            for u in units[:-1]:
                first.append(first[-1] + len(u))
            k = max(math.floor(level * sum(self.dense_channels)) - sum(removed), 0)
            chosen: list[list[int]] = [[] for _ in units]
            taken = 0
            for idx in torch.argsort(normed, stable=True).tolist():
                g = owner[idx]
                # keep one block per group; a block must fit in what is left to take
                if len(chosen[g]) < len(units[g]) - 1 and taken + widths[g] <= k:
                    chosen[g].append(idx - first[g])
                    taken += widths[g]
                if taken == k:
                    break
        else:
            chosen = []
            for u, w, dense, gone in zip(units, widths, self.dense_channels, removed):
                k = min(max(math.floor(level * dense / w) - gone // w, 0), len(u) - 1)
                chosen.append(torch.argsort(u, stable=True)[:k].tolist())
        return [(torch.tensor(sorted(c), dtype=torch.int64).reshape(-1, 1) * w
                 + torch.arange(w)).reshape(-1) for c, w in zip(chosen, widths)]

    @torch.no_grad()
    def compute_masks(self, epoch: int, active: Sequence[int]) -> dict[str, torch.Tensor]:
        level = self.config.target(epoch, active)
        masks: dict[str, torch.Tensor] = {}
        pruned_channels = self._pruned(level)  # finds the groups again after thinning
        for group, pruned in zip(self.groups, pruned_channels):
            for name, mask in group_zero_masks(self.model, group, pruned).items():
                masks[name] = masks[name] & mask if name in masks else mask
        return masks


def resolve_groups(criterion: str, chosen: Sequence[str], groups: list[ChannelGroup],
                   line: int, key: str, problems: Problems) -> list[ChannelGroup]:
    """The groups holding the chosen tensors in the role the criterion needs."""
    roles, tensor = _ROLE[criterion]
    out: dict[int, ChannelGroup] = {}
    for name in chosen:
        found = [g for g in groups for m in g.members
                 if m.name == name and m.role in roles and m.tensor == tensor]
        if not found:
            what = {"producer": "an output-channel producer (Conv2d/Linear weight)",
                    "consumer": "a channel consumer (Conv2d/Linear weight)",
                    "batchnorm": "a BatchNorm weight"}[roles[0]]
            if tensor == SCALE:
                what = ("the `scale` of a module listed under model.scaling_factors (in a "
                        "prunable channel group)")
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
