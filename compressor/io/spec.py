"""Rebuilding a model from a checkpoint, thinned or not, for inference or offline work."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from ..errors import CheckpointError
from ..graph import find_groups
from ..models import build_model
from ..nn.scaling import attach_scaling_factors, fold_scaling_factors
from ..engine.thinning import TOTAL, apply_recipe, count_macs, plan_thinning, thin_model, thinning_recipe

OFFLINE_THINNED = "thinned"  # the phase of a checkpoint written by `compress thin`


def build_from_spec(spec: dict) -> nn.Module:
    """A fresh dense model of a checkpoint's ``model_spec`` (with its learned scaling
    factors, if the spec lists any, so the checkpoint's weights load)."""
    model = build_model(spec["arch"], num_classes=spec["num_classes"], in_channels=spec["in_channels"],
                        image_size=spec["image_size"], **spec.get("options", {}))
    attach_scaling_factors(model, spec.get("scaling_factors", []))
    return model


def inference_spec(spec: dict) -> dict:
    """The ``model_spec`` of a model whose scaling factors were folded into its weights."""
    return {k: v for k, v in spec.items() if k != "scaling_factors"}


def model_from_state(state: dict, source: str) -> nn.Module:
    """The checkpoint's architecture, re-thinned by its recipe, with its weights; learned
    scaling factors are folded into the weights (same outputs, plain modules). A sparse
    checkpoint (``compress sparse``) gives its SparseLinear / SparseConv2d model."""
    spec = state.get("model_spec")
    if not isinstance(spec, dict):
        raise CheckpointError(f"{source}: no model_spec entry; was it written by `compress`?")
    if "sparse" in state:  # written by `compress sparse`: packed sparse-kernel layers
        from .sparse import sparse_model_from_state

        return sparse_model_from_state(state, source)
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
    return torch.zeros(1, spec["in_channels"], spec["image_size"], spec["image_size"])


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


def load(path: str | Path) -> nn.Module:
    """``compressor.load(path)``: the model of a checkpoint (thinned and sparse ones
    included), in eval mode, without the schedule."""
    model = model_from_state(load_checkpoint(path), str(path))
    return model.eval()


def thin_checkpoint(path: str | Path, out: str | Path) -> dict:
    """``compress thin``: remove every channel the checkpoint's masks zeroed in a whole
    dependency group; write an inference checkpoint. Returns params/MACs before and after."""
    state = load_checkpoint(path)
    if "sparse" in state:
        raise CheckpointError(f"{path} is a sparse inference checkpoint (`compress sparse`); thin "
                              "the checkpoint it was made from (or use `compress sparse --thin`)")
    model = model_from_state(state, str(path))
    params = dict(model.named_parameters())  # folded scaling factors lose their masks
    masks = {k: v for k, v in state.get("scheduler", {}).get("masks", {}).items() if k in params}
    example = example_for(state)
    before = count_macs(model, example)[TOTAL]
    plan = plan_thinning(model, find_groups(model, example), masks=masks)
    thin_model(model, plan, masks=masks)
    after = count_macs(model, example)[TOTAL]
    thinned = {k: v for k, v in state.items() if k not in ("format", "format_version", "optimizer")}
    thinned.update(phase=OFFLINE_THINNED, model_spec=inference_spec(state["model_spec"]), model={k: v.detach().cpu() for k, v in model.state_dict().items()},
                   thinning=thinning_recipe(model),
                   scheduler={**state.get("scheduler", {}), "masks": masks})
    save_checkpoint(out, thinned)
    return {"channels_removed": int(plan.channels_removed), "params_before": before["params"],
            "params_after": after["params"], "macs_before": before["macs"], "macs_after": after["macs"]}
