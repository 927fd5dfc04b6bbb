"""Thinning recipes: what was removed, as plain data, and replaying it on a dense model.

A recipe is a plain ``dict`` (str keys; ints, strs and lists of ints as values), so it
fits in a checkpoint read with ``torch.load(weights_only=True)``::

    {"format": "compressor.thinning", "version": 1,
     "modules": {
        "conv2":  {"type": "Conv2d", "out": 64, "in": 32, "groups": 1,
                   "keep_out": [0, 1, 3, ...]},
        "fc1":    {"type": "Linear", "out": 128, "in": 9216, "keep_in": [0, 1, ...]},
        "bn1":    {"type": "BatchNorm2d", "out": 64, "keep_out": [...]},
        "features.2.conv.1.0": {"type": "Conv2d", "out": 96, "in": 96, "groups": 61,
                                "keep_out": [...]},      # depthwise: groups = len(keep_out)
        "layer1.0.conv2": {"type": "Conv2d", "out": 128, "in": 128, "groups": 24,
                           "keep_out": [...]},   # grouped (32 groups of 4): whole groups go
     }}

Per module: ``type`` (class name), ``out`` / ``in`` the *dense* model's sizes of weight
dims 0 and 1 (a Conv's out/in channels, a Linear's out/in features; a BatchNorm has only
``out``), ``keep_out`` / ``keep_in`` the kept indices of those dims (sorted; absent when
the dim is whole) and, for convs, ``groups`` after thinning.

**Indices are always relative to the original dense model.** Thinning a thinned model
again composes: the new kept indices are looked up in the old ones, so one recipe
replays every thinning event at once on a freshly built dense model
(:func:`apply_recipe`).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ...nn.scaling import base_class
from .resize import (
    ThinningError,
    check_resizable,
    is_channel_grouped,
    is_conv,
    resize_module,
    retarget_optimizer,
    thinned_groups,
)

__all__ = ["RECIPE_FORMAT", "Recipe", "apply_recipe", "compose_entry",
           "dense_entry", "empty_recipe", "set_thinning_recipe", "thinning_recipe",
           "validate_recipe"]

RECIPE_FORMAT = "compressor.thinning"
RECIPE_VERSION = 1
_ATTR = "_compressor_thinning_recipe"

Recipe = dict[str, Any]


def empty_recipe() -> Recipe:
    return {"format": RECIPE_FORMAT, "version": RECIPE_VERSION, "modules": {}}


def thinning_recipe(model: nn.Module) -> Recipe | None:
    """The recipe of every thinning applied to ``model`` so far (a copy), or None."""
    recipe = getattr(model, _ATTR, None)
    return copy.deepcopy(recipe) if recipe is not None else None


def set_thinning_recipe(model: nn.Module, recipe: Recipe) -> None:
    object.__setattr__(model, _ATTR, copy.deepcopy(recipe))


def dense_entry(m: nn.Module) -> dict[str, Any]:
    """The recipe entry of an unthinned module: its type and sizes."""
    check_resizable(m)
    if is_conv(m):
        return {"type": base_class(m).__name__, "out": m.out_channels, "in": m.in_channels,
                "groups": m.groups}
    if isinstance(m, nn.Linear):
        return {"type": base_class(m).__name__, "out": m.out_features, "in": m.in_features}
    return {"type": base_class(m).__name__, "out": m.num_features}  # a BatchNorm


def compose_entry(entry: dict[str, Any], keep_out: torch.Tensor | None,
                  keep_in: torch.Tensor | None, groups: int | None) -> dict[str, Any]:
    """``entry`` (relative to the dense model) followed by keeping ``keep_out`` / ``keep_in``
    of the module as it is now."""
    entry = dict(entry)
    for key, keep in (("keep_out", keep_out), ("keep_in", keep_in)):
        if keep is not None:
            before = entry.get(key)
            entry[key] = ([before[i] for i in keep.tolist()] if before is not None
                          else keep.tolist())
    if groups is not None:
        entry["groups"] = groups
    return entry


def _check_indices(where: str, key: str, keep: object, size: int) -> torch.Tensor:
    if not isinstance(keep, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                             for i in keep):
        raise ThinningError(f"{where}: {key} must be a list of ints")
    if not keep or any(not 0 <= i < size for i in keep) or len(set(keep)) != len(keep):
        raise ThinningError(f"{where}: {key} must hold distinct indices in [0, {size}), "
                            "at least one")
    return torch.tensor(keep, dtype=torch.int64)


def validate_recipe(recipe: object, source: str = "recipe") -> dict[str, dict[str, Any]]:
    """The recipe's modules after checking its structure (not yet against a model)."""
    if not isinstance(recipe, dict) or recipe.get("format") != RECIPE_FORMAT:
        raise ThinningError(f"{source}: not a thinning recipe (a dict with "
                            f"format {RECIPE_FORMAT!r})")
    if recipe.get("version") != RECIPE_VERSION:
        raise ThinningError(f"{source}: recipe version {recipe.get('version')!r} is not "
                            f"supported (this version reads {RECIPE_VERSION})")
    modules = recipe.get("modules")
    if not isinstance(modules, dict) or not all(isinstance(k, str) and isinstance(v, dict)
                                                for k, v in modules.items()):
        raise ThinningError(f"{source}: 'modules' must map module names to entries")
    return modules


def apply_recipe(model: nn.Module, recipe: Recipe, source: str = "recipe",
                 optimizer: torch.optim.Optimizer | None = None) -> nn.Module:
    """Replay ``recipe`` on a freshly built dense ``model`` of the same architecture (in
    place; returns the model), so that a thinned state dict loads into it::

        model = build_model(...)                 # dense
        apply_recipe(model, checkpoint["thinning"])
        model.load_state_dict(checkpoint["model"])

    The kept slices of the dense weights are kept (load the state dict for the trained
    ones). The model remembers the recipe, so thinning it further composes. With
    ``optimizer`` (built on the dense model), it is pointed at the new parameters.

    Raises:
        ThinningError: the recipe is malformed, names a module the model does not have
            or of another type, the module's sizes are not the recipe's dense sizes (e.g.
            the model is already thinned), or an index is out of range.
    """
    modules = validate_recipe(recipe, source)
    if getattr(model, _ATTR, None):
        raise ThinningError(f"{source}: the model is already thinned; apply the recipe to a "
                            "freshly built dense model")
    changes = []
    for name, entry in modules.items():
        where = f"{source}: module {name!r}"
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise ThinningError(f"{where} is not in the model "
                                f"({type(model).__name__})") from None
        dense = dense_entry(module)
        for key, value in dense.items():
            if key != "groups" and entry.get(key) != value:
                raise ThinningError(
                    f"{where}: the recipe expects {key}={entry.get(key)!r}, the model has "
                    f"{value!r}; apply the recipe to a freshly built dense model of the "
                    "architecture it was made on")
        keep_out = (_check_indices(where, "keep_out", entry["keep_out"], dense["out"])
                    if "keep_out" in entry else None)
        keep_in = (_check_indices(where, "keep_in", entry["keep_in"], dense["in"])
                   if "keep_in" in entry else None)
        if "groups" in dense:
            n_out = len(keep_out) if keep_out is not None else dense["out"]
            want = (thinned_groups(dense["groups"], dense["out"], n_out)
                    if is_channel_grouped(module) else dense["groups"])
            if entry.get("groups") != want:
                raise ThinningError(f"{where}: groups must be {want}, got {entry.get('groups')!r}")
        changes.append((name, keep_out, keep_in))
    replaced = []
    with torch.no_grad():
        for name, keep_out, keep_in in changes:
            replaced += resize_module(model, name, keep_out, keep_in)
        if optimizer is not None:
            retarget_optimizer(optimizer, replaced)
    set_thinning_recipe(model, recipe)
    return model
