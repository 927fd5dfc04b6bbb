"""Executing a thinning plan: :func:`thin_model` removes the planned channels in place."""

from __future__ import annotations

from collections.abc import MutableMapping

import torch
from torch import nn

from ...graph.groups import member_tensor
from ...ops import gather_channels
from ..masks import MaskStore
from .plan import ThinningPlan
from .recipe import Recipe, compose_entry, dense_entry, empty_recipe, set_thinning_recipe, thinning_recipe
from .resize import Replaced, resize_module, retarget_optimizer

__all__ = ["thin_model"]


def _module_changes(model: nn.Module, plan: ThinningPlan,
                    ) -> dict[str, list[torch.Tensor | None]]:
    """Module name → [kept weight-dim-0 indices, kept weight-dim-1 indices] (None: whole)."""
    removed: dict[tuple[str, int], list[torch.Tensor]] = {}
    sizes: dict[tuple[str, int], int] = {}
    for gid in plan.keep:
        group = plan.groups[gid]
        gone = plan.removed(gid)
        if not len(gone):
            continue
        seen = set()
        for m in group.members:  # weight and bias of a module share their slots
            if (slot := (m.module, m.axis, m.offset, m.block)) in seen:
                continue
            seen.add(slot)
            key = (m.module, m.axis)
            if key not in sizes:
                sizes[key] = member_tensor(model, m).shape[m.axis]
            positions = m.positions(gone)
            if int(positions.max()) >= sizes[key]:
                raise ValueError(f"group {gid} does not fit {m.name} (shape "
                                 f"{tuple(member_tensor(model, m).shape)}): the groups were "
                                 "found on another model; re-run find_groups after thinning")
            removed.setdefault(key, []).append(positions)
    changes: dict[str, list[torch.Tensor | None]] = {}
    for (module, axis), parts in removed.items():
        kept = torch.ones(sizes[(module, axis)], dtype=torch.bool)
        kept[torch.cat(parts)] = False
        changes.setdefault(module, [None, None])[axis] = kept.nonzero().reshape(-1)
    return changes


def _slice_masks(masks: MaskStore | MutableMapping[str, torch.Tensor], model: nn.Module,
                 replaced: list[Replaced]) -> None:
    current = dict(masks.items())
    for r in replaced:
        mask = current.get(r.name)
        if mask is None:
            continue
        if mask.shape != r.old.shape:
            raise ValueError(f"mask of {r.name} has shape {tuple(mask.shape)}, the parameter "
                             f"{tuple(r.old.shape)}")
        current[r.name] = gather_channels(mask, r.out, r.inp)
    if isinstance(masks, MaskStore):
        masks.rebind(model)
        for name, mask in current.items():
            masks.set(name, mask)
    else:
        masks.update(current)


def thin_model(model: nn.Module, plan: ThinningPlan,
               optimizer: torch.optim.Optimizer | None = None,
               masks: MaskStore | MutableMapping[str, torch.Tensor] | None = None) -> Recipe:
    """Remove the channels ``plan`` drops, in place, and return the model's recipe.

    Every Conv/Linear/BatchNorm module that loses slices (output channels, input
    channels or both) shrinks in place: the module stays the same object (references
    to it and its hooks stay valid), its shrunk tensors are new parameters and buffers
    under the same names. With ``optimizer``, its ``param_groups`` then hold the new
    parameters (the optimizer object stays valid) and per-parameter state shaped like
    a parameter (SGD ``momentum_buffer``, Adam ``exp_avg`` / ``exp_avg_sq`` ...) is
    sliced the same way; with ``masks`` (a ``MaskStore``, rebound to the new
    parameters, or a ``{name: mask}`` dict, updated in place) the masks are sliced too.
    Depthwise and grouped convs lose whole conv groups (``groups`` follows; see
    :func:`~compressor.engine.thinning.resize.is_channel_grouped`).

    Returns the recipe of all thinning applied to this model so far, indices relative
    to the original dense model (see :mod:`compressor.engine.thinning.recipe`); it is also
    remembered by the model (``thinning_recipe(model)``). Groups and plans describe the
    model they were made on: call ``find_groups`` again before thinning again.
    """
    changes = _module_changes(model, plan)
    recipe = thinning_recipe(model) or empty_recipe()
    replaced: list[Replaced] = []
    with torch.no_grad():
        for name, (keep_out, keep_in) in changes.items():
            module = model.get_submodule(name)
            entry = recipe["modules"].get(name) or dense_entry(module)
            replaced += resize_module(model, name, keep_out, keep_in)
            groups = model.get_submodule(name).groups if "groups" in entry else None
            recipe["modules"][name] = compose_entry(entry, keep_out, keep_in, groups)
        if optimizer is not None:
            retarget_optimizer(optimizer, replaced)
        if masks is not None:
            _slice_masks(masks, model, replaced)
    set_thinning_recipe(model, recipe)
    return recipe
