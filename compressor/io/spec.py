"""A checkpoint's model from its plain data: ``model_spec`` → model, recipe, masks.

The pieces the readers of checkpoints share (``compressor.load``, ``compress sparse``,
``compress thin``, ``compress bench``): :func:`build_from_spec` builds the dense
architecture a ``model_spec`` names, :func:`dense_model_from_state` rebuilds a
(possibly thinned) checkpoint's model with its weights, :func:`apply_stored_masks`
and :func:`thin_zeroed` apply what the masks say.
"""

from __future__ import annotations

import torch
from torch import nn

from ..engine.thinning import apply_recipe, plan_thinning, thin_model
from ..errors import CheckpointError
from ..graph import find_groups
from ..models import build_model, image_hw, replace_classifier
from ..nn.scaling import attach_scaling_factors, fold_scaling_factors

__all__ = ["apply_stored_masks", "build_from_spec", "dense_model_from_state", "example_for",
           "inference_spec", "thin_zeroed"]


def build_from_spec(spec: dict) -> nn.Module:
    """A fresh dense model of a checkpoint's ``model_spec`` (with its classifier replaced
    for the data set's classes when the spec says so, and its learned scaling factors, if
    the spec lists any, so the checkpoint's weights load)."""
    model = build_model(spec["arch"], num_classes=spec["num_classes"], in_channels=spec["in_channels"],
                        image_size=spec["image_size"], options=spec.get("options", {}))
    if spec.get("classifier_replaced"):
        replace_classifier(model, spec["classifier_replaced"], spec["num_classes"])
    attach_scaling_factors(model, spec.get("scaling_factors", []))
    return model


def inference_spec(spec: dict) -> dict:
    """The ``model_spec`` of a model whose scaling factors were folded into its weights."""
    return {k: v for k, v in spec.items() if k != "scaling_factors"}


def dense_model_from_state(state: dict, source: str) -> nn.Module:
    """The checkpoint's architecture, re-thinned by its recipe, with its weights; learned
    scaling factors are folded into the weights (same outputs, plain modules). For any
    checkpoint but a sparse one (``compress sparse``; see ``compressor.io.load``)."""
    spec = state.get("model_spec")
    if not isinstance(spec, dict):
        raise CheckpointError(f"{source} does not record an architecture (no model_spec entry); "
                              "pass a fresh instance of its model: compressor.load(path, model=...)")
    model = build_from_spec(spec)
    if state.get("thinning"):
        apply_recipe(model, state["thinning"], source=source)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: weights do not fit {spec['arch']}: {exc}") from None
    return fold_scaling_factors(model)


def example_for(state: dict) -> torch.Tensor:
    spec = state["model_spec"]
    return torch.zeros(1, spec["in_channels"], *image_hw(spec["image_size"]))


def apply_stored_masks(model: nn.Module, state: dict, source: str) -> dict[str, torch.Tensor]:
    """Multiply the checkpoint's masks into the model's parameters; the masks that apply.
    Masks of parameters the model no longer has (folded scaling factors) are ignored."""
    masks = state.get("scheduler", {}).get("masks", {}) if isinstance(state.get("scheduler"), dict) else {}
    if not isinstance(masks, dict):
        raise CheckpointError(f"{source}: scheduler.masks is a {type(masks).__name__}, not a mapping")
    params = dict(model.named_parameters())
    used: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, mask in masks.items():
            if name not in params:
                continue
            p = params[name]
            if not isinstance(mask, torch.Tensor) or mask.shape != p.shape:
                shape = list(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
                raise CheckpointError(f"{source}: scheduler.masks[{name!r}] is {shape}, but the "
                                      f"parameter has shape {list(p.shape)}")
            p.mul_(mask.to(p.dtype))
            used[name] = mask.bool()
    return used


def thin_zeroed(model: nn.Module, example: torch.Tensor, masks: dict[str, torch.Tensor]) -> int:
    """Remove, in place, the channels that ``masks`` (or zero values) empty in a whole
    dependency group, if there are any; how many were removed."""
    plan = plan_thinning(model, find_groups(model, example), masks=masks)
    if plan.channels_removed:
        thin_model(model, plan, masks=masks)
    return int(plan.channels_removed)
