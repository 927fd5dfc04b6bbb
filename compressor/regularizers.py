"""Regularizers: penalties added to the loss before backward while their policy is active.

``l1``  strength · Σ|w| over the matched tensors (drives weights toward zero,
        so magnitude pruning later removes less accuracy).
``l2``  strength · Σw² over the matched tensors (weight decay limited to some layers).
``group_lasso``  strength · Σ over structures of ‖w_structure‖₂, structures being output
        filters (``structure: filter``, weight rows) or input channels (``channel``):
        drives whole structures to zero for structured pruning. L1 on BatchNorm scales
        (network slimming) is ``l1`` with patterns like ``"*bn*.weight"``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from .patterns import resolve
from .schedule.fields import Located, option
from .schedule.problems import Problems


@dataclasses.dataclass(kw_only=True)
class RegularizerConfig(Located):
    weights: list[str] = option(doc="parameter-name patterns (glob; `re:` for a regex)")
    strength: float = option(min=0.0, min_exclusive=True, doc="multiplier of the penalty")
    norm: Literal["l1", "l2", "group_lasso"] = "l1"

    def check(self, key: str, problems: Problems) -> None:
        if not self.weights:
            problems.add(self.line_of("weights"), f"{key}.weights", "must name at least one pattern")


@dataclasses.dataclass(kw_only=True)
class L1Config(RegularizerConfig):
    norm: Literal["l1"] = dataclasses.field(default="l1", init=False)


@dataclasses.dataclass(kw_only=True)
class L2Config(RegularizerConfig):
    norm: Literal["l2"] = dataclasses.field(default="l2", init=False)


@dataclasses.dataclass(kw_only=True)
class GroupLassoConfig(RegularizerConfig):
    norm: Literal["group_lasso"] = dataclasses.field(default="group_lasso", init=False)
    structure: Literal["filter", "channel"] = option(
        "filter", doc="`filter`: rows (output channels); `channel`: input channels")


REGULARIZER_TYPES: dict[str, type[RegularizerConfig]] = {
    "l1": L1Config, "l2": L2Config, "group_lasso": GroupLassoConfig}


class Regularizer:
    def __init__(self, name: str, config: RegularizerConfig, names: list[str],
                 params: dict[str, nn.Parameter]) -> None:
        self.name = name
        self.config = config
        self.names = names
        self._params = [params[n] for n in names]

    def rebind(self, params: dict[str, nn.Parameter]) -> None:
        self._params = [params[n] for n in self.names]

    def penalty(self) -> torch.Tensor:
        if self.config.norm == "l1":
            total = sum(p.abs().sum() for p in self._params)
        elif self.config.norm == "group_lasso":
            dim = 0 if self.config.structure == "filter" else 1
            total = sum(p.transpose(0, dim).flatten(1).norm(2, dim=1).sum()
                        for p in self._params if p.dim() > dim)
        else:
            total = sum(p.pow(2).sum() for p in self._params)
        return self.config.strength * total


def build_regularizer(name: str, config: RegularizerConfig, key: str,
                      params: dict[str, nn.Parameter], problems: Problems) -> Regularizer | None:
    by_pattern, errors = resolve(config.weights, params)
    for message in errors:
        problems.add(config.line_of("weights"), f"{key}.weights", message)
    chosen = list(dict.fromkeys(n for names in by_pattern.values() for n in names))
    return Regularizer(name, config, chosen, params) if chosen else None
