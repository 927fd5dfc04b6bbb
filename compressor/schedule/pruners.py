"""Pruner settings: one config dataclass per schedule ``type``, and their registry.

Schedule types (the ``type`` key of an entry under ``pruners:``):

``level``        fixed sparsity; one active epoch makes it one-shot, several re-rank.
``agp``          Zhu & Gupta's cubic ramp from ``initial_sparsity`` to ``final_sparsity``.
``polynomial``   the same ramp with a configurable ``power``.
``iterative``    ``step`` more sparsity on each active epoch until ``final_sparsity``;
                 the policy's ``frequency`` is the number of fine-tuning epochs between.
``nm``           N:M semi-structured sparsity (2:4 by default).

``scope: layer`` prunes each matched tensor to the target on its own; ``scope: global``
ranks all matched tensors together, so layers end up with different sparsities. Each
config's ``target(epoch, active)`` is the sparsity it asks for (see :mod:`.ramps`); the
runtime pruners that reach it are in :mod:`compressor.engine.pruning`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from . import ramps
from .fields import Located, option
from .problems import Problems

__all__ = ["CHANNEL_CRITERIA", "ELEMENT_CRITERIA", "FILTER_CRITERIA", "PRUNER_TYPES",
           "STRUCTURED_CRITERIA", "AGPConfig", "Criterion", "IterativeConfig", "LevelConfig",
           "NMConfig", "PolynomialConfig", "PrunerConfig"]

FILTER_CRITERIA = ("l1_filter", "l2_filter", "fpgm", "neuron")
CHANNEL_CRITERIA = ("l1_channel", "l2_channel")
STRUCTURED_CRITERIA = (*FILTER_CRITERIA, *CHANNEL_CRITERIA, "bn_scale", "scaling_factor")
ELEMENT_CRITERIA = ("magnitude", "block")
Criterion = Literal["magnitude", "block", "l1_filter", "l2_filter", "fpgm", "neuron",
                    "l1_channel", "l2_channel", "bn_scale", "scaling_factor"]

SPARSITY = {"min": 0.0, "max": 1.0, "max_exclusive": True}


@dataclasses.dataclass(kw_only=True)
class PrunerConfig(Located):
    weights: list[str] | dict[str, float] = option(
        doc="parameter-name patterns (glob; `re:` for a regex); for `level` also "
            "a mapping pattern → sparsity")
    scope: Literal["layer", "global"] = option(
        "layer", doc="`layer`: each tensor to the target; `global`: rank all matched tensors together")
    criterion: Criterion = option(
        "magnitude", doc="which weights: `magnitude` (elements by |w|), `block`, or a structured "
                         "criterion (`l1_filter`, `l2_filter`, `fpgm`, `neuron`, `l1_channel`, "
                         "`l2_channel`, `bn_scale`, `scaling_factor`)")
    block: list[int] | None = option(None, doc="[rows, cols] of a block, with criterion `block`")

    @property
    def structured(self) -> bool:
        return self.criterion in STRUCTURED_CRITERIA

    def check(self, key: str, problems: Problems) -> None:
        """Cross-field checks beyond types and bounds."""
        if (self.criterion == "block") != (self.block is not None):
            problems.add(self.line_of("block" if self.block is not None else "criterion"),
                         f"{key}.block", "`block: [rows, cols]` goes with `criterion: block`, "
                         "and criterion `block` needs it")
        elif self.block is not None and (len(self.block) != 2 or min(self.block) < 1):
            problems.add(self.line_of("block"), f"{key}.block",
                         f"must be [rows, cols] of positive sizes, got {self.block}")
        if isinstance(self.weights, dict):
            problems.add(self.line_of("weights"), f"{key}.weights",
                         "a pattern → sparsity mapping is only valid for type 'level'; "
                         "give a list of patterns")
        elif not self.weights:
            problems.add(self.line_of("weights"), f"{key}.weights", "must name at least one pattern")

    def target(self, epoch: int, active: Sequence[int]) -> float:
        raise NotImplementedError


@dataclasses.dataclass(kw_only=True)
class LevelConfig(PrunerConfig):
    sparsity: float | None = option(
        None, **SPARSITY, doc="fixed fraction of weights to zero (required with a list of patterns)")

    def check(self, key: str, problems: Problems) -> None:
        line = self.line_of("weights")
        if isinstance(self.weights, dict):
            if not self.weights:
                problems.add(line, f"{key}.weights", "must name at least one pattern")
            if self.sparsity is not None:
                problems.add(self.line_of("sparsity"), f"{key}.sparsity",
                             "give either `sparsity` with a list of patterns, or a mapping "
                             "pattern → sparsity under `weights`, not both")
            if self.criterion != "magnitude":
                problems.add(self.line_of("weights"), f"{key}.weights",
                             "a pattern → sparsity mapping is only valid with criterion 'magnitude'")
            if self.scope == "global":
                problems.add(self.line_of("scope"), f"{key}.scope",
                             "`global` ranks all tensors to one target; it needs a list of "
                             "patterns and one `sparsity`")
            for pattern, level in self.weights.items():
                if not 0.0 <= level < 1.0:
                    problems.add(line, f"{key}.weights.{pattern}",
                                 f"sparsity must be in [0, 1), got {level}")
        else:
            super().check(key, problems)
            if self.sparsity is None:
                problems.add(self.line_of("weights"), f"{key}.sparsity", "missing required key")

    def target(self, epoch: int, active: Sequence[int]) -> float:
        return float(self.sparsity or 0.0)


@dataclasses.dataclass(kw_only=True)
class AGPConfig(PrunerConfig):
    initial_sparsity: float = option(0.0, **SPARSITY, doc="sparsity at the first active epoch")
    final_sparsity: float = option(**SPARSITY, doc="sparsity at the last active epoch and after")
    power = 3.0

    def check(self, key: str, problems: Problems) -> None:
        super().check(key, problems)
        if self.initial_sparsity > self.final_sparsity:
            problems.add(self.line_of("initial_sparsity"), f"{key}.initial_sparsity",
                         f"must not exceed final_sparsity ({self.final_sparsity})")

    def target(self, epoch: int, active: Sequence[int]) -> float:
        return ramps.polynomial(epoch, active, self.initial_sparsity,
                                             self.final_sparsity, self.power)


@dataclasses.dataclass(kw_only=True)
class PolynomialConfig(AGPConfig):
    power: float = option(3.0, min=0.0, min_exclusive=True,
                          doc="exponent of the decay (3 = AGP, 1 = linear)")


@dataclasses.dataclass(kw_only=True)
class IterativeConfig(PrunerConfig):
    step: float = option(min=0.0, max=1.0, min_exclusive=True, max_exclusive=True,
                         doc="sparsity added on each active epoch")
    final_sparsity: float = option(**SPARSITY, doc="where the steps stop")

    def target(self, epoch: int, active: Sequence[int]) -> float:
        return ramps.iterative(epoch, active, self.step, self.final_sparsity)

    def steps_needed(self) -> int:
        return ramps.iterative_steps_needed(self.step, self.final_sparsity)


@dataclasses.dataclass(kw_only=True)
class NMConfig(PrunerConfig):
    """N:M semi-structured sparsity: in every run of ``m`` weights along the input
    dimension keep the ``n`` largest (2:4 is what sparse tensor cores and our 2:4
    kernel speed up)."""

    n: int = option(2, min=1, doc="weights kept per group")
    m: int = option(4, min=1, doc="group length along the input dimension")

    def check(self, key: str, problems: Problems) -> None:
        super().check(key, problems)
        if self.n > self.m:
            problems.add(self.line_of("n"), f"{key}.n", f"must not exceed m ({self.m})")
        if self.criterion != "magnitude" or self.scope != "layer":
            problems.add(self.line_of("weights"), key,
                         "type 'nm' ranks by magnitude within each layer; leave out criterion and scope")

    def target(self, epoch: int, active: Sequence[int]) -> float:
        return 1.0 - self.n / self.m


PRUNER_TYPES: dict[str, type[PrunerConfig]] = {
    "level": LevelConfig,
    "agp": AGPConfig,
    "polynomial": PolynomialConfig,
    "iterative": IterativeConfig,
    "nm": NMConfig,
}
