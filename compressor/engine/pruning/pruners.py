"""Magnitude pruners at run time: patterns bound to the model's tensors, masks computed.

``build_pruner`` binds a pruner's settings (:mod:`compressor.schedule.pruners`) to a
model: element criteria (``magnitude``, ``block``, and the N:M type) give a
:class:`Pruner`, structured criteria a :class:`~.structured.StructuredPruner`. Each
epoch a pruner's ``compute_masks`` reaches the target its config names, with the mask
ops of :mod:`compressor.ops`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ... import ops
from ...patterns import resolve
from ...schedule.problems import Problems
from ...schedule.pruners import NMConfig, PrunerConfig
from .structured import StructuredPruner, resolve_groups

__all__ = ["Pruner", "build_pruner", "resolve_weights"]


def resolve_weights(config: PrunerConfig, key: str, params: dict[str, nn.Parameter],
                    problems: Problems) -> dict[str, str]:
    """Map each matched parameter name to the pattern that chose it.

    A pattern that matches nothing, or two patterns of a mapping that choose the same
    tensor, are problems at the pattern's line.
    """
    line = config.line_of("weights")
    by_pattern, errors = resolve(config.weights, params)
    for message in errors:
        problems.add(line, f"{key}.weights", message)
    chosen: dict[str, str] = {}
    for pattern, names in by_pattern.items():
        for name in names:
            if name in chosen and isinstance(config.weights, dict):
                problems.add(line, f"{key}.weights",
                             f"patterns {chosen[name]!r} and {pattern!r} both choose {name!r}")
            chosen.setdefault(name, pattern)
    return chosen


class Pruner:
    """A configured magnitude pruner bound to the model's parameters."""

    def __init__(self, name: str, config: PrunerConfig, chosen: dict[str, str],
                 params: dict[str, nn.Parameter]) -> None:
        self.name = name
        self.config = config
        self.param_names = list(chosen)
        self._params = [params[n] for n in self.param_names]
        self._fixed_levels = (
            {n: float(config.weights[p]) for n, p in chosen.items()}
            if isinstance(config.weights, dict) else None)

    def rebind(self, params: dict[str, nn.Parameter]) -> None:
        self._params = [params[n] for n in self.param_names]

    def targets(self, epoch: int, active: Sequence[int]) -> dict[str, float]:
        """Target sparsity per parameter at ``epoch``."""
        if self._fixed_levels is not None:
            return dict(self._fixed_levels)
        level = self.config.target(epoch, active)
        return {n: level for n in self.param_names}

    @torch.no_grad()
    def compute_masks(self, epoch: int, active: Sequence[int]) -> dict[str, torch.Tensor]:
        """Masks (True = keep) that reach this epoch's targets by |w|."""
        targets = self.targets(epoch, active)
        if isinstance(self.config, NMConfig):
            return {n: ops.nm_mask(p.detach(), self.config.n, self.config.m)
                    for n, p in zip(self.param_names, self._params)}
        if self.config.criterion == "block":
            rows, cols = self.config.block
            return {n: ops.block_mask(p.detach(), rows, cols, targets[n])
                    for n, p in zip(self.param_names, self._params)}
        if self.config.scope == "global":
            level = targets[self.param_names[0]]
            masks = ops.global_magnitude_masks([p.detach() for p in self._params], level)
            return dict(zip(self.param_names, masks))
        return {n: ops.magnitude_mask(p.detach(), targets[n])
                for n, p in zip(self.param_names, self._params)}


def build_pruner(name: str, config: PrunerConfig, key: str, model: nn.Module,
                 problems: Problems, groups=None, example_input: torch.Tensor | None = None,
                 ) -> Pruner | StructuredPruner | None:
    """Bind a pruner to the model; ``groups`` (from compressor.graph.find_groups on
    ``example_input``) is needed by structured criteria, and the example input to find
    them again after thinning."""
    params = dict(model.named_parameters())
    chosen = resolve_weights(config, key, params, problems)
    if not chosen:
        return None
    if config.structured:
        picked = resolve_groups(config.criterion, list(chosen), groups or [],
                                config.line_of("weights"), key, problems)
        return (StructuredPruner(name, config, model, picked, list(chosen), example_input)
                if picked else None)
    if config.criterion == "block" and config.scope == "global":
        problems.add(config.line_of("scope"), f"{key}.scope",
                     "criterion 'block' prunes each tensor on its own; use scope 'layer'")
    return Pruner(name, config, chosen, params)
