"""The mask store: which weights are pruned, and keeping them at zero.

Masks are boolean tensors shaped like their parameter (True = keep). They are
applied after every optimizer step with the fused C++ op, so momentum or weight
decay can never revive a pruned weight. The store round-trips through a plain
``{name: BoolTensor}`` dict for checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from .. import ops
from ..errors import CheckpointError


class MaskStore:
    def __init__(self, model: nn.Module) -> None:
        self._params = dict(model.named_parameters())
        self._masks: dict[str, torch.Tensor] = {}

    def rebind(self, model: nn.Module) -> None:
        """Follow the model's current parameter objects (after thinning replaced some)."""
        self._params = dict(model.named_parameters())

    def __contains__(self, name: str) -> bool:
        return name in self._masks

    def __len__(self) -> int:
        return len(self._masks)

    def items(self) -> Iterator[tuple[str, torch.Tensor]]:
        return iter(self._masks.items())

    def set(self, name: str, mask: torch.Tensor) -> None:
        param = self._params[name]
        if mask.dtype != torch.bool or mask.shape != param.shape:
            raise ValueError(f"mask for {name!r} must be a bool tensor of shape "
                             f"{tuple(param.shape)}, got {mask.dtype} {tuple(mask.shape)}")
        self._masks[name] = mask.to(param.device)

    @torch.no_grad()
    def apply(self) -> None:
        """Zero every pruned weight in place."""
        for name, mask in self._masks.items():
            ops.apply_mask_(self._params[name].data, mask)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: mask.cpu() for name, mask in self._masks.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
        for name, mask in state.items():
            if name not in self._params:
                raise CheckpointError(f"{source}: mask for {name!r}, which the model does not have")
            if not isinstance(mask, torch.Tensor) or mask.shape != self._params[name].shape:
                raise CheckpointError(
                    f"{source}: mask for {name!r} has shape {tuple(getattr(mask, 'shape', ()))}, "
                    f"the parameter has {tuple(self._params[name].shape)}")
        self._masks = {}
        for name, mask in state.items():
            self.set(name, mask.to(torch.bool))
