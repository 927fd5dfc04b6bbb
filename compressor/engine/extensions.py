"""Extensions at run time: steps a policy runs at the start of an epoch, after pruning.

``thinning``  physically remove every channel that structured pruning zeroed (in all
              producers and BatchNorms of its dependency group): smaller Conv2d /
              BatchNorm / Linear modules, optimizer state and masks sliced, so
              fine-tuning goes on with the thinned model. The recipe goes into every
              later checkpoint.

The settings are :mod:`compressor.schedule.extensions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..errors import CompressorError
from ..graph import find_groups
from ..schedule.extensions import ThinningConfig
from .thinning import count_macs, plan_thinning, thin_model

if TYPE_CHECKING:  # annotations only: the scheduler runs the extensions
    from .scheduler import CompressionScheduler

__all__ = ["run_extension", "run_thinning"]


def run_thinning(config: ThinningConfig, scheduler: CompressionScheduler, when: dict) -> dict:
    """Thin ``scheduler.model`` in place; returns a record for the report (``when``: the
    epoch, and the step for a step window)."""
    model = scheduler.model
    example = scheduler.example_input
    if example is None:
        raise CompressorError("thinning needs an example input to trace the model: pass "
                              "example_inputs= to compressor.file_config")
    before = count_macs(model, example)["<total>"]
    groups = find_groups(model, example)
    plan = plan_thinning(model, groups, masks=scheduler.masks, min_channels=config.min_channels)
    thin_model(model, plan, scheduler.optimizer, masks=scheduler.masks)
    scheduler.rebind()
    after = count_macs(model, example)["<total>"]
    return {**when, "channels_removed": int(plan.channels_removed),
            "params_before": before["params"], "params_after": after["params"],
            "macs_before": before["macs"], "macs_after": after["macs"]}


def run_extension(kind: str, config: Any, scheduler: CompressionScheduler, when: dict) -> dict:
    if isinstance(config, ThinningConfig):
        with torch.no_grad():
            return {"type": kind, **run_thinning(config, scheduler, when)}
    raise TypeError(f"no runner for extension {type(config).__name__}")  # pragma: no cover
