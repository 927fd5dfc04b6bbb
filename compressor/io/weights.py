"""``model.weights``: pretrained weights from a plain state_dict file, as torchvision and
timm ship them (``torch.save(model.state_dict(), path)``), read with
``torch.load(weights_only=True)``.

A file holding ``{"state_dict": {...}}`` or ``{"model": {...}}`` (and nothing else but
plain metadata) is unwrapped; a compressor checkpoint is refused (that is
``model.checkpoint``'s job). Every key must match the model: missing and unexpected
keys are errors naming them, as are tensors of another shape, with one exception: when
the file's classifier (the model's last ``nn.Linear``) has another number of classes
than the data set, that layer is left out and replaced by a fresh one of the data
set's size; :func:`load_pretrained` says so in what it returns.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..models import last_linear, replace_classifier
from .checkpoint import FORMAT

__all__ = ["PretrainedLoad", "load_pretrained", "read_state_dict"]

_WRAPPERS = ("state_dict", "model")
_LISTED = 8  # names shown per kind of mismatch


@dataclass
class PretrainedLoad:
    """What :func:`load_pretrained` did."""

    path: str
    tensors: int  # loaded from the file
    classifier: str | None = None  # the replaced classifier's module name, if replaced
    classes_in_file: int | None = None
    classes_now: int | None = None

    def describe(self) -> str:
        text = f"weights: {self.tensors} tensors from {self.path}"
        if self.classifier:
            text += (f"; classifier {self.classifier} replaced: {self.classes_in_file} classes in "
                     f"the file, {self.classes_now} in the data set (freshly initialised)")
        return text


def _is_tensor_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict in ``path`` (plain, or wrapped once under ``state_dict`` / ``model``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"model.weights: {path} not found")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"model.weights: {path} is not a torch.save file (not a zip archive); "
                              "legacy pickled .pth files are not read (they can run code)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"model.weights: {path} holds pickled objects that a weights-only load "
                              f"refuses ({first}); save the weights with "
                              "torch.save(model.state_dict(), path)") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"model.weights: {path} is not a readable torch file: {exc}") from None
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        raise CheckpointError(f"model.weights: {path} is a compressor checkpoint; give it as "
                              "model.checkpoint instead")
    if _is_tensor_dict(obj):
        return obj
    if isinstance(obj, dict):
        wrapped = [k for k in _WRAPPERS if _is_tensor_dict(obj.get(k))]
        others = [k for k, v in obj.items() if k not in wrapped and (isinstance(v, torch.Tensor)
                                                                     or _is_tensor_dict(v))]
        if len(wrapped) == 1 and not others:
            return obj[wrapped[0]]
        if wrapped or others:
            keys = ", ".join(repr(k) for k in [*wrapped, *others])
            raise CheckpointError(f"model.weights: {path} holds several sets of tensors ({keys}); "
                                  "save the one to use with torch.save(model.state_dict(), path)")
    kind = type(obj).__name__
    raise CheckpointError(f"model.weights: {path} holds a {kind}, not a state_dict (a mapping of "
                          "parameter names to tensors)")


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LISTED])
    return shown + (f" and {len(keys) - _LISTED} more" if len(keys) > _LISTED else "")


def load_pretrained(model: nn.Module, path: str | Path, num_classes: int) -> PretrainedLoad:
    """Load the state_dict in ``path`` into ``model`` (in place); replace the classifier
    when the file's class count differs from ``num_classes``. ``CheckpointError`` naming
    the keys for anything that does not fit."""
    state = read_state_dict(path)
    result = PretrainedLoad(path=str(path), tensors=len(state))
    classifier = last_linear(model)
    weight_key = f"{classifier}.weight" if classifier else None
    if weight_key and weight_key in state and state[weight_key].dim() == 2 \
            and state[weight_key].shape[0] != num_classes:
        layer = model.get_submodule(classifier)
        if state[weight_key].shape[1] != layer.in_features:
            raise CheckpointError(
                f"model.weights: {path}: {weight_key} has shape {list(state[weight_key].shape)}, "
                f"but the model's classifier {classifier} takes {layer.in_features} features")
        result.classes_in_file = int(state[weight_key].shape[0])
        result.classes_now = num_classes
        result.classifier = classifier
        state = {k: v for k, v in state.items() if k not in (weight_key, f"{classifier}.bias")}
        result.tensors = len(state)
    expected = model.state_dict()
    skipped = {f"{classifier}.weight", f"{classifier}.bias"} if result.classifier else set()
    missing = [k for k in expected if k not in state and k not in skipped]
    unexpected = [k for k in state if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing keys (the model has them, the file does not): {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys (in the file, not in the model): {_names(unexpected)}")
    shapes = [f"{k} {list(v.shape)} in the file, {list(expected[k].shape)} in the model"
              for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    if shapes:
        problems.append(f"tensors of another shape: {_names(shapes)}")
    if problems:
        raise CheckpointError(f"model.weights: {path} does not fit the model: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)
    if result.classifier and model.get_submodule(result.classifier).out_features != num_classes:
        replace_classifier(model, result.classifier, num_classes)
    return result
