"""Module surgery: a Conv / Linear / BatchNorm replaced by a smaller one of its class.

:func:`resize_module` keeps given slices of a module's weight dims 0 and 1 (and of its
bias and BatchNorm tensors, through the C++ gather ``compressor.ops.gather_channels``)
and puts the smaller module under the same name. The predicates say which convs are
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
           "is_depthwise", "resize_module", "thinned_groups"]


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


def _smaller(m: nn.Module, n_out: int | None, n_in: int | None) -> tuple[nn.Module, bool]:
    """A module like ``m`` (on the meta device) with the new sizes; whether it is a
    channel-grouped conv (depthwise or grouped with in == out: only its dim 0 is cut)."""
    check_resizable(m)
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
