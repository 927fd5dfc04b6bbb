"""Channel groups: the tensors whose channel slices must be removed together.

A :class:`ChannelGroup` is an index space ``0 .. channels-1``. Each :class:`Member` maps
it onto one parameter or buffer of the model: group channel ``k`` is the slice
``offset + k * block + [0, block)`` along ``axis`` of the tensor. Removing channel ``k``
removes that slice from every member at once, which keeps the network consistent:

* producers: a Conv/Linear's output channels (``weight`` axis 0, ``bias``); a depthwise
  conv's channels are producers too (its ``groups`` shrinks with them);
* batchnorm: ``weight``, ``bias``, ``running_mean``, ``running_var`` (axis 0);
* consumers: a Conv's input channels (``weight`` axis 1) or a Linear's input features
  (``weight`` axis 1, ``block`` features per channel after a flatten).

The two helpers pruners are written against:

* :func:`group_param_slices` gives each member's values as a ``[channels, n]`` matrix,
  so a per-channel score is a row reduction (e.g. ``values.abs().sum(1)`` for the L1
  norm of producer filters), summed over members.
* :func:`group_zero_masks` gives keep-masks (True = keep) that zero chosen channels in
  every producer weight/bias and batchnorm weight/bias of the group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["ChannelGroup", "Member", "ParamSlice", "ROLES", "group_param_slices",
           "group_zero_masks", "member_tensor"]

ROLES = ("producer", "batchnorm", "consumer")


@dataclass(frozen=True)
class Member:
    """One tensor slot of a group.

    Attributes:
        module: qualified name of the module (``"layer1.0.conv1"``).
        tensor: attribute of the module: ``weight``, ``bias``, ``running_mean``,
            ``running_var``.
        role: ``producer``, ``batchnorm`` or ``consumer``.
        axis: the tensor axis the channels index (0 = output channels / features,
            1 = input channels / features).
        offset: index along ``axis`` of group channel 0 (non-zero after a concat).
        block: consecutive entries along ``axis`` per channel (``H*W`` for a Linear
            after a flatten, else 1).
    """

    module: str
    tensor: str
    role: str
    axis: int
    offset: int = 0
    block: int = 1

    @property
    def name(self) -> str:
        """The parameter or buffer name, as in ``model.state_dict()``."""
        return f"{self.module}.{self.tensor}" if self.module else self.tensor

    def positions(self, channels: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Indices along ``axis`` of the given group channels (int64, ``block`` per channel)."""
        ch = torch.as_tensor(channels, dtype=torch.int64).reshape(-1, 1)
        return (self.offset + ch * self.block + torch.arange(self.block)).reshape(-1)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "module": self.module, "role": self.role, "axis": self.axis,
                "offset": self.offset, "block": self.block}


@dataclass
class ChannelGroup:
    """Channels that must keep the same indices in every member.

    Attributes:
        id: position in the list ``find_groups`` returned.
        channels: number of channels.
        members: the tensor slots, in graph order.
        prunable: whether channels of this group may be removed.
        reason: why not, when not prunable ("" otherwise).
        depthwise: depthwise and grouped convs among the producers (their ``groups``
            follows the channel count).
        granularity: channels are removed in aligned blocks of this many (a grouped
            conv's channels per conv group; 1 otherwise).
    """

    id: int
    channels: int
    members: tuple[Member, ...]
    prunable: bool
    reason: str = ""
    depthwise: tuple[str, ...] = field(default=())
    granularity: int = 1

    def modules(self, role: str | None = None) -> list[str]:
        """Module names with a member of ``role`` (all roles when None), first seen first."""
        seen: dict[str, None] = {}
        for m in self.members:
            if role is None or m.role == role:
                seen.setdefault(m.module)
        return list(seen)

    def describe(self) -> str:
        """One line for reports: size, prunability and the modules by role."""
        state = "prunable" if self.prunable else f"not prunable ({self.reason})"
        parts = [f"{role}s: {', '.join(names)}" if role != "batchnorm" else
                 f"batchnorm: {', '.join(names)}"
                 for role in ROLES if (names := self.modules(role))]
        if self.depthwise:
            parts.append(f"depthwise/grouped: {', '.join(self.depthwise)}")
        if self.granularity > 1:
            parts.append(f"removed in blocks of {self.granularity}")
        return f"group {self.id}: {self.channels} channels, {state} — {'; '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able)."""
        return {"id": self.id, "channels": self.channels, "prunable": self.prunable,
                "reason": self.reason, "modules": self.modules(),
                "depthwise": list(self.depthwise), "granularity": self.granularity,
                "members": [m.to_dict() for m in self.members]}


def member_tensor(model: nn.Module, member: Member) -> torch.Tensor:
    """The parameter or buffer a member refers to."""
    tensor = getattr(model.get_submodule(member.module), member.tensor)
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{member.name} is not a tensor of the model (groups are stale? "
                         "re-run find_groups after changing the model)")
    return tensor


def _check_fits(member: Member, tensor: torch.Tensor, channels: int) -> None:
    end = member.offset + channels * member.block
    if tensor.dim() <= member.axis or tensor.shape[member.axis] < end:
        raise ValueError(
            f"{member.name} has shape {tuple(tensor.shape)}, too small for {channels} channels "
            f"at offset {member.offset} (block {member.block}) on axis {member.axis}; the groups "
            "were found on another model (re-run find_groups after thinning)")


@dataclass(frozen=True)
class ParamSlice:
    """A member's values arranged per channel: ``values[k]`` is everything channel ``k``
    owns in that tensor (a ``[channels, n]`` detached matrix)."""

    member: Member
    values: torch.Tensor

    @property
    def name(self) -> str:
        return self.member.name


def group_param_slices(model: nn.Module, group: ChannelGroup,
                       roles: Iterable[str] = ("producer",)) -> list[ParamSlice]:
    """Each member of ``roles`` as a ``[group.channels, n]`` matrix, row ``k`` = channel ``k``.

    Example — L1 norm of the producer filters, summed over the group::

        score = sum(s.values.abs().sum(1) for s in group_param_slices(model, group)
                    if s.member.tensor == "weight")

    Rows of producers are output filters (weight axis 0; the bias is a ``[channels, 1]``
    matrix); rows of consumers are input columns (all kernel positions and output
    channels of that input channel, ``block`` features for a Linear after a flatten).
    Values are detached; row ``k`` of axis-1 members is a copy, others are views.
    """
    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {', '.join(ROLES)}")
    slices = []
    for member in group.members:
        if member.role not in wanted:
            continue
        tensor = member_tensor(model, member).detach()
        _check_fits(member, tensor, group.channels)
        moved = tensor.movedim(member.axis, 0) if member.axis else tensor
        part = moved.narrow(0, member.offset, group.channels * member.block)
        slices.append(ParamSlice(member, part.reshape(group.channels, -1)))
    return slices


def group_zero_masks(model: nn.Module, group: ChannelGroup,
                     pruned_channel_indices: torch.Tensor | Sequence[int], *,
                     consumers: bool = False) -> dict[str, torch.Tensor]:
    """Keep-masks (bool, parameter-shaped, True = keep) that zero the given channels of
    ``group`` in every producer weight and bias and every batchnorm weight and bias
    (and, with ``consumers=True``, in the consumers' input columns).

    After applying these masks the channels contribute exactly nothing downstream, so
    :func:`compressor.thinning.plan_thinning` finds them removable. Masks of several
    groups may name the same parameter (a batchnorm after a concat holds several
    groups): combine them with ``&``. Buffers (batchnorm running statistics) get no mask.

    Raises:
        ValueError: an index is outside ``[0, group.channels)``.
    """
    pruned = torch.as_tensor(pruned_channel_indices, dtype=torch.int64).reshape(-1)
    if pruned.numel() and (int(pruned.min()) < 0 or int(pruned.max()) >= group.channels):
        raise ValueError(f"pruned channel indices must be in [0, {group.channels}) for "
                         f"group {group.id}, got {pruned.tolist()}")
    params = dict(model.named_parameters())
    masks: dict[str, torch.Tensor] = {}
    for member in group.members:
        if member.role == "consumer" and not consumers or member.name not in params:
            continue
        param = params[member.name]
        _check_fits(member, param, group.channels)
        mask = masks.get(member.name)
        if mask is None:
            mask = masks[member.name] = torch.ones_like(param, dtype=torch.bool)
        mask.index_fill_(member.axis, member.positions(pruned).to(param.device), False)
    return masks
