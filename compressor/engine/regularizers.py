"""Regularizers at run time: the penalty of matched tensors, added to the loss.

``build_regularizer`` binds a regularizer's settings
(:mod:`compressor.schedule.regularizers`) to the model's tensors; while its policy is
active the scheduler adds ``penalty()`` to the loss before backward.
"""

from __future__ import annotations

import torch
from torch import nn

from ..patterns import resolve
from ..schedule.problems import Problems
from ..schedule.regularizers import RegularizerConfig

__all__ = ["Regularizer", "build_regularizer"]


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
