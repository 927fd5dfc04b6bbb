"""Extensions: steps a policy runs at the start of an epoch, after that epoch's pruning.

``thinning``  physically remove every channel that structured pruning zeroed (in all
              producers and BatchNorms of its dependency group): smaller Conv2d /
              BatchNorm / Linear modules, optimizer state and masks sliced, so
              fine-tuning goes on with the thinned model. The recipe goes into every
              later checkpoint.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from .graph import find_groups
from .schedule.fields import Located, option
from .schedule.problems import Problems
from .thinning import count_macs, plan_thinning, thin_model


@dataclasses.dataclass(kw_only=True)
class ThinningConfig(Located):
    min_channels: int = option(1, min=1, doc="channels every group keeps at least")

    def check(self, key: str, problems: Problems) -> None:
        """Nothing beyond types and bounds."""


EXTENSION_TYPES: dict[str, type[Located]] = {"thinning": ThinningConfig}


def run_thinning(config: ThinningConfig, scheduler: Any, epoch: int) -> dict:
    """Thin ``scheduler.model`` in place; returns a record for the report."""
    model = scheduler.model
    example = scheduler.example_input
    before = count_macs(model, example)["<total>"]
    groups = find_groups(model, example)
    plan = plan_thinning(model, groups, masks=scheduler.masks, min_channels=config.min_channels)
    thin_model(model, plan, scheduler.optimizer, masks=scheduler.masks)
    scheduler.rebind()
    after = count_macs(model, example)["<total>"]
    return {"epoch": epoch, "channels_removed": int(plan.channels_removed),
            "params_before": before["params"], "params_after": after["params"],
            "macs_before": before["macs"], "macs_after": after["macs"]}


def run_extension(kind: str, config: Any, scheduler: Any, epoch: int) -> dict:
    if isinstance(config, ThinningConfig):
        with torch.no_grad():
            return {"type": kind, **run_thinning(config, scheduler, epoch)}
    raise TypeError(f"no runner for extension {type(config).__name__}")  # pragma: no cover
