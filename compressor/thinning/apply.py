"""Physically removing channels: :func:`thin_model`."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

import torch
from torch import nn

from ..graph.groups import member_tensor
from ..ops import gather_channels
from ..masks import MaskStore
from .plan import ThinningPlan
from .recipe import (Recipe, ThinningError, compose_entry, dense_entry, empty_recipe,
                     is_channel_grouped, set_thinning_recipe, thinned_groups, thinning_recipe)

__all__ = ["Replaced", "resize_module", "thin_model"]


@dataclass(frozen=True)
class Replaced:
    """A parameter or buffer that got smaller: ``new = gather_channels(old, out, inp)``."""

    name: str
    old: torch.Tensor
    new: torch.Tensor
    out: torch.Tensor | None
    inp: torch.Tensor | None


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new


def _smaller(m: nn.Module, n_out: int | None, n_in: int | None) -> tuple[nn.Module, bool]:
    """A module like ``m`` (on the meta device) with the new sizes; whether it is a
    channel-grouped conv (depthwise or grouped with in == out: only its dim 0 is cut)."""
    dense_entry(m)  # raises for anything but Conv / Linear / BatchNorm
    tensors = [t for t in (*m.parameters(recurse=False), *m.buffers(recurse=False))
               if t.is_floating_point()]
    kwargs = {"device": "meta", "dtype": tensors[0].dtype if tensors else None}
    if isinstance(m, nn.Linear):
        return type(m)(_pick(n_in, m.in_features), _pick(n_out, m.out_features),
                       bias=m.bias is not None, **kwargs), False
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return type(m)(_pick(n_out, m.num_features), eps=m.eps, momentum=m.momentum,
                       affine=m.affine, track_running_stats=m.track_running_stats,
                       **kwargs), False
    channel_grouped = is_channel_grouped(m)
    groups = m.groups
    if channel_grouped:
        if n_in is not None:
            raise ThinningError(f"grouped conv {type(m).__name__} (groups={groups}): its input "
                                "channels follow its output channels (no separate keep_in)")
        n_in = _pick(n_out, m.out_channels)
        width = m.out_channels // groups
        if n_in % width:
            raise ThinningError(f"grouped conv {type(m).__name__} (groups={groups}): channels go "
                                f"in whole conv groups of {width}, {n_in} cannot be kept")
        groups = thinned_groups(groups, m.out_channels, n_in)
    elif groups != 1:
        raise ThinningError(f"cannot thin a grouped conv (groups={groups}) whose input and output "
                            f"channel counts differ ({m.in_channels} → {m.out_channels})")
    return type(m)(_pick(n_in, m.in_channels), _pick(n_out, m.out_channels), m.kernel_size,
                   stride=m.stride, padding=m.padding, dilation=m.dilation, groups=groups,
                   bias=m.bias is not None, padding_mode=m.padding_mode, **kwargs), channel_grouped


def resize_module(model: nn.Module, name: str, keep_out: torch.Tensor | None,
                  keep_in: torch.Tensor | None) -> list[Replaced]:
    """Replace module ``name`` by a smaller one of the same class holding only the kept
    slices: ``keep_out`` of weight dim 0 (and bias, batchnorm tensors), ``keep_in`` of
    weight dim 1 (None keeps a dim whole). Unchanged tensors stay the same objects.
    Returns the tensors that changed."""
    if not name:
        raise ThinningError("cannot replace the model itself; thin a model that contains it")
    old = model.get_submodule(name)
    new, channel_grouped = _smaller(old, None if keep_out is None else len(keep_out),
                              None if keep_in is None else len(keep_in))
    replaced = []
    for store_old, store_new, is_param in ((old._parameters, new._parameters, True),
                                           (old._buffers, new._buffers, False)):
        for key, tensor in store_old.items():
            if tensor is None:
                store_new[key] = None
                continue
            out = keep_out if tensor.dim() >= 1 and key != "num_batches_tracked" else None
            inp = keep_in if key == "weight" and tensor.dim() >= 2 and not channel_grouped else None
            if out is None and inp is None:
                store_new[key] = tensor
                continue
            data = gather_channels(tensor.detach(), out, inp)
            value = nn.Parameter(data, requires_grad=tensor.requires_grad) if is_param else data
            store_new[key] = value
            replaced.append(Replaced(f"{name}.{key}", tensor, value, out, inp))
    new.train(old.training)
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, new)
    return replaced


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


def _slice_optimizer(optimizer: torch.optim.Optimizer, replaced: list[Replaced]) -> None:
    by_id = {id(r.old): r for r in replaced}
    for group in optimizer.param_groups:
        group["params"] = [by_id[id(p)].new if id(p) in by_id else p for p in group["params"]]
    for r in replaced:
        state = optimizer.state.pop(r.old, None)
        if state is None:
            continue
        optimizer.state[r.new] = {
            key: gather_channels(value, r.out, r.inp)
            if isinstance(value, torch.Tensor) and value.shape == r.old.shape else value
            for key, value in state.items()}


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
        # The store holds the parameter objects; bind it to the thinned ones.
        masks.__init__(model)  # type: ignore[misc]
        for name, mask in current.items():
            masks.set(name, mask)
    else:
        masks.update(current)


def thin_model(model: nn.Module, plan: ThinningPlan,
               optimizer: torch.optim.Optimizer | None = None,
               masks: MaskStore | MutableMapping[str, torch.Tensor] | None = None) -> Recipe:
    """Remove the channels ``plan`` drops, in place, and return the model's recipe.

    Every Conv/Linear/BatchNorm module that loses slices (output channels, input
    channels or both) is replaced by a smaller module of the same class under the same
    name (so parameter names do not change); depthwise and grouped convs lose whole conv
    groups (``groups`` follows; see :func:`~compressor.thinning.recipe.is_channel_grouped`)
    channel count. With ``optimizer``, its ``param_groups`` then reference the new
    parameters and per-parameter state shaped like a parameter (SGD ``momentum_buffer``,
    Adam ``exp_avg`` / ``exp_avg_sq`` ...) is sliced the same way; with ``masks`` (a
    ``MaskStore``, rebound to the new parameters, or a ``{name: mask}`` dict, updated in
    place) the masks are sliced too.

    Returns the recipe of all thinning applied to this model so far, indices relative
    to the original dense model (see :mod:`compressor.thinning.recipe`); it is also
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
            _slice_optimizer(optimizer, replaced)
        if masks is not None:
            _slice_masks(masks, model, replaced)
    set_thinning_recipe(model, recipe)
    return recipe
