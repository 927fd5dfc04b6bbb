"""Module surgery: a Conv / Linear / BatchNorm shrunk in place to the channels it keeps.

:func:`resize_module` keeps given slices of a module's weight dims 0 and 1 (and of its
bias and BatchNorm tensors, through the C++ gather ``compressor.ops.gather_channels``),
in place: the module stays the same object, with smaller tensors. The predicates say which convs are
channel-grouped (depthwise, or grouped with as many input as output channels: their
channels pass through, so they lose whole conv groups). Plan execution
(:mod:`.apply`) and recipe replay (:mod:`.recipe`) both resize through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...errors import CompressorError
from ...ops import gather_channels

__all__ = ["Replaced", "ThinningError", "check_resizable", "is_channel_grouped", "is_conv",
           "is_depthwise", "resize_module", "retarget_optimizer", "thinned_groups"]


class ThinningError(CompressorError):
    """A module cannot be thinned as asked, or a recipe does not fit the model (or is
    malformed); the message says why."""


def is_conv(m: nn.Module) -> bool:
    return isinstance(m, nn.modules.conv._ConvNd) and not m.transposed


def is_depthwise(m: nn.Module) -> bool:
    return is_conv(m) and 1 < m.groups == m.in_channels == m.out_channels


def is_channel_grouped(m: nn.Module) -> bool:
    """A grouped conv whose conv group ``g`` reads input block ``g`` and writes output
    block ``g`` of the same channels (groups > 1, in == out; depthwise included): its
    channels pass through, so thinning removes whole conv groups from both sides and
    ``groups`` shrinks with them."""
    return is_conv(m) and m.groups > 1 and m.in_channels == m.out_channels


def thinned_groups(dense_groups: int, dense_out: int, n_out: int) -> int:
    """``groups`` of a channel-grouped conv of ``dense_out`` channels cut to ``n_out``."""
    return dense_groups * n_out // dense_out


def check_resizable(m: nn.Module) -> None:
    """Raise ThinningError unless ``m`` is a (non-transposed) Conv, a Linear or a BatchNorm."""
    if not (is_conv(m) or isinstance(m, (nn.Linear, nn.modules.batchnorm._BatchNorm))):
        raise ThinningError(f"cannot thin a {type(m).__name__}: only (non-transposed) Conv, "
                            "Linear and BatchNorm modules are resized")


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


def _new_sizes(m: nn.Module, n_out: int | None, n_in: int | None) -> tuple[dict[str, int], bool]:
    """The size attributes ``m`` gets for ``n_out`` output / ``n_in`` input channels;
    whether it is a channel-grouped conv (depthwise or grouped with in == out: only its
    dim 0 is cut, its input channels follow)."""
    check_resizable(m)
    if isinstance(m, nn.Linear):
        return {"in_features": _pick(n_in, m.in_features),
                "out_features": _pick(n_out, m.out_features)}, False
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return {"num_features": _pick(n_out, m.num_features)}, False
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
    return {"in_channels": _pick(n_in, m.in_channels), "out_channels": _pick(n_out, m.out_channels),
            "groups": groups}, channel_grouped


def resize_module(model: nn.Module, name: str, keep_out: torch.Tensor | None,
                  keep_in: torch.Tensor | None) -> list[Replaced]:
    """Shrink module ``name`` in place to the kept slices: ``keep_out`` of weight dim 0
    (and bias, batchnorm tensors), ``keep_in`` of weight dim 1 (None keeps a dim whole).

    The module stays the same Python object (references to it and its hooks stay
    valid); its size attributes (``out_channels``, ``in_features``, ``groups``, ...)
    follow, and each tensor that shrinks is a new parameter or buffer under the same
    name (a new parameter, because autograd keeps a parameter's shape for as long as
    any graph that used it lives). Returns the tensors that changed, so an optimizer
    can be pointed at the new parameters (``thin_model`` does)."""
    if not name:
        raise ThinningError("cannot resize the model itself; thin a model that contains it")
    module = model.get_submodule(name)
    sizes, channel_grouped = _new_sizes(module, None if keep_out is None else len(keep_out),
                                        None if keep_in is None else len(keep_in))
    replaced = []
    for store, is_param in ((module._parameters, True), (module._buffers, False)):
        for key, tensor in list(store.items()):
            if tensor is None:
                continue
            out = keep_out if tensor.dim() >= 1 and key != "num_batches_tracked" else None
            inp = keep_in if key == "weight" and tensor.dim() >= 2 and not channel_grouped else None
            if out is None and inp is None:
                continue
            data = gather_channels(tensor.detach(), out, inp)
            value = nn.Parameter(data, requires_grad=tensor.requires_grad) if is_param else data
            store[key] = value
            replaced.append(Replaced(f"{name}.{key}", tensor, value, out, inp))
    for attr, value in sizes.items():
        setattr(module, attr, value)
    return replaced


def retarget_optimizer(optimizer: torch.optim.Optimizer, replaced: list[Replaced]) -> None:
    """Point ``optimizer`` at the new parameters and slice their state shaped like a
    parameter (SGD momentum, Adam's moments) the same way."""
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
