"""Regularizer settings: one config dataclass per schedule ``type``, and their registry.

A regularizer adds a penalty to the loss before backward while its policy is active
(the runtime is :mod:`compressor.engine.regularizers`):

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

from .fields import Located, option
from .problems import Problems

__all__ = ["REGULARIZER_TYPES", "GroupLassoConfig", "L1Config", "L2Config", "RegularizerConfig"]


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
