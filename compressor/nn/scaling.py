"""Learned scaling factors: data-driven sparse structure selection (Huang & Wang, 2018).

Each chosen Conv2d, Linear or BatchNorm module gets a trainable ``scale`` parameter,
one factor per output channel (filter, neuron, normalised channel), multiplied into
its output: ``y[:, c] = scale[c] · module(x)[:, c]``. Trained with an L1 regularizer on
``*.scale``, the factors of unimportant structures shrink toward zero; a pruner with
``criterion: scaling_factor`` then removes the channels with the smallest ``|scale|``
(per dependency group, so thinning can drop them), and the thinning extension removes
them physically.

The module keeps its class's behaviour and parameter names (``conv1.weight`` stays
``conv1.weight``; the factor is ``conv1.scale``): attaching swaps its class for a
subclass whose ``forward`` multiplies the output. The factors are plain state-dict
entries, so checkpoints stay weights-only; a checkpoint's ``model_spec`` lists the
modules that carry them (``scaling_factors``), and :func:`fold_scaling_factors` folds
them into the weights for inference (exact: ``s·(Wx + b) = (sW)x + sb``, and
``s·(γx̂ + β) = (sγ)x̂ + sβ`` for BatchNorm).

A factor right before a BatchNorm is normalised away in training, so put it on the
BatchNorm (after normalisation) or on a layer that no BatchNorm follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from ..patterns import resolve

__all__ = ["SCALE", "ScalingError", "attach_scaling_factors", "base_class", "fold_scaling_factors",
           "is_scaled", "load_with_new_scales", "resolve_scalable", "scalable_reason",
           "scaled_modules"]

SCALE = "scale"  # the parameter's attribute name on a scaled module


class ScalingError(ValueError):
    """A module cannot carry scaling factors (the message names it)."""


class _ScaledOutput:
    """Mixin placed before the module's own class: multiplies the output channels."""

    def forward(self, *args, **kwargs):
        y = super().forward(*args, **kwargs)
        # Linear: features are the last dim; Conv and BatchNorm: dim 1.
        if isinstance(self, nn.Linear):
            return y * self.scale
        return y * self.scale.reshape((-1,) + (1,) * (y.dim() - 2))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scaled"


_SCALED_CLASSES: dict[type, type] = {}


def _scaled_class(base: type) -> type:
    if base not in _SCALED_CLASSES:
        _SCALED_CLASSES[base] = type(f"Scaled{base.__name__}", (_ScaledOutput, base),
                                     {"__module__": __name__})
    return _SCALED_CLASSES[base]


def is_scaled(module: nn.Module) -> bool:
    return isinstance(module, _ScaledOutput)


def base_class(module: nn.Module) -> type:
    """The module's class without the scaling (the class a thinning recipe records)."""
    cls = type(module)
    return cls.__mro__[2] if is_scaled(module) else cls


def _channels(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return module.num_features
    return module.out_channels


def scalable_reason(module: nn.Module) -> str | None:
    """Why ``module`` cannot carry scaling factors (None: it can)."""
    kind = type(module).__name__
    if is_scaled(module):
        return "it already has scaling factors"
    if isinstance(module, nn.Conv2d) or isinstance(module, nn.Linear):
        return None
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return None if module.affine else f"it is a {kind} without affine weight and bias"
    return (f"it is a {kind}; scaling factors go on the outputs of Conv2d, Linear or "
            "BatchNorm modules")


def attach_scaling_factors(model: nn.Module, names: Iterable[str], init: float = 1.0) -> list[str]:
    """Give each named module a trainable per-output-channel ``scale`` (initialised to
    ``init``), in place. Returns the names. Raises ScalingError naming a bad module."""
    names = list(names)
    for name in names:
        module = model.get_submodule(name)
        reason = scalable_reason(module)
        if reason is not None:
            raise ScalingError(f"module {name!r} cannot carry scaling factors: {reason}")
    for name in names:
        module = model.get_submodule(name)
        like = module.weight
        module.__class__ = _scaled_class(type(module))
        module.register_parameter(SCALE, nn.Parameter(
            torch.full((_channels(module),), float(init), dtype=like.dtype, device=like.device)))
    return names


def resolve_scalable(model: nn.Module, patterns: Iterable[str]) -> tuple[list[str], list[str]]:
    """The modules ``patterns`` choose that can carry scaling factors, and a message for
    each pattern that chooses none (a pattern may also match containers or activations:
    only its Conv2d / Linear / affine BatchNorm matches count)."""
    modules = {name: m for name, m in model.named_modules() if name}
    by_pattern, errors = resolve(patterns, modules, what="module")
    chosen: dict[str, None] = {}
    for pattern, names in by_pattern.items():
        usable = [n for n in names if scalable_reason(modules[n]) is None]
        if not usable:
            shown = ", ".join(f"{n} ({type(modules[n]).__name__})" for n in names[:4])
            more = f" and {len(names) - 4} more" if len(names) > 4 else ""
            errors.append(f"pattern {pattern!r} matches no Conv2d, Linear or affine BatchNorm "
                          f"module (it matches {shown}{more})")
        chosen.update(dict.fromkeys(usable))
    return list(chosen), errors


def scaled_modules(model: nn.Module) -> list[str]:
    """Names of the modules that carry scaling factors, in model order."""
    return [name for name, m in model.named_modules() if is_scaled(m)]


@torch.no_grad()
def fold_scaling_factors(model: nn.Module) -> nn.Module:
    """Multiply every module's factors into its weight (and bias) and restore its own
    class: the same outputs, no ``scale`` parameters (in place; returns the model)."""
    for _, module in model.named_modules():
        if not is_scaled(module):
            continue
        scale = module._parameters.pop(SCALE).detach()
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.weight.mul_(scale)
        else:
            module.weight.mul_(scale.reshape((-1,) + (1,) * (module.weight.dim() - 1)))
        if module.bias is not None:
            module.bias.mul_(scale)
        module.__class__ = base_class(module)
    return model


def load_with_new_scales(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """``model.load_state_dict(state_dict)``, where the weights may predate the model's
    scaling factors (a dense checkpoint): factors missing from ``state_dict`` keep
    their initial values. Any other missing or unexpected key raises RuntimeError.
    Returns the names of the factors that were not in ``state_dict``."""
    scales = {f"{name}.{SCALE}" for name in scaled_modules(model)}
    result = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys if k not in scales]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"missing keys {missing}, unexpected keys {result.unexpected_keys}")
    return [k for k in result.missing_keys if k in scales]
