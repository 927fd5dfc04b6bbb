"""Typed wrapper of the thinning gather ``torch.ops.compressor.gather_channels``.

Schema: ``csrc/ops/thinning.cpp``; CPU kernel: ``csrc/ops/cpu/thinning_kernel.cpp``;
tensors on a device without a kernel (CUDA) run the torch implementation of :mod:`.reference`.
A fake (meta) implementation is registered here, so the op traces under
``torch.compile`` and runs on FakeTensors and meta tensors.

``gather_channels(w, out_idx, in_idx)`` is ``w.index_select(0, out_idx).index_select(1,
in_idx)`` in one pass (no intermediate tensor): the kept output channels (dim 0) and,
of each, the kept input channels (dim 1), every further dimension whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import reference
from ._checks import check_tensor, use_reference

__all__ = ["gather_channels"]

_OPS = torch.ops.compressor

Index = torch.Tensor | Sequence[int] | None


def _as_index(name: str, idx: Index, device: torch.device) -> torch.Tensor | None:
    if idx is None or isinstance(idx, torch.Tensor):
        return idx
    if isinstance(idx, Sequence) and not isinstance(idx, (str, bytes)):
        return torch.tensor(list(idx), dtype=torch.int64, device=device)
    raise TypeError(f"compressor.gather_channels: {name} must be a tensor, a sequence of ints "
                    f"or None, got {type(idx).__name__}")


def gather_channels(w: torch.Tensor, out_idx: Index = None, in_idx: Index = None) -> torch.Tensor:
    """``w[out_idx][:, in_idx]`` as a new contiguous tensor of ``w``'s dtype.

    Args:
        w: float16/bfloat16/float32/float64 or bool, at least 1-D, any strides.
        out_idx: indices of dim 0 to keep, in order (1-D int64 tensor or a sequence of
            ints); ``None`` keeps all of dim 0.
        in_idx: indices of dim 1 to keep; ``None`` keeps all of dim 1 (must be ``None``
            for a 1-D ``w``).

    Indices must lie in ``[0, size)`` (negative indices are not wrapped); repeats are
    allowed and empty lists give an empty result.

    Raises:
        TypeError: ``w`` is not a tensor or an index is neither tensor, sequence nor None.
        ValueError: ``w`` is sparse or on a device without a kernel.
        RuntimeError: (from the kernel) unsupported dtype, index not 1-D int64, index out
            of range, ``in_idx`` given for a 1-D ``w``; the message names the argument.
    """
    check_tensor("gather_channels", "w", w)
    out_t = _as_index("out_idx", out_idx, w.device)
    in_t = _as_index("in_idx", in_idx, w.device)
    with torch.no_grad():
        if use_reference("gather_channels", w):
            return reference.gather_channels(w, out_t, in_t)
        return _OPS.gather_channels(w, out_t, in_t)


@torch.library.register_fake("compressor::gather_channels")
def _gather_channels_fake(w: torch.Tensor, out_idx: torch.Tensor | None,
                          in_idx: torch.Tensor | None) -> torch.Tensor:
    torch._check(w.dim() >= 1, lambda: "compressor.gather_channels: w must have a dimension")
    torch._check(w.dim() >= 2 or in_idx is None,
                 lambda: "compressor.gather_channels: in_idx must be None for a 1-D w")
    shape = list(w.shape)
    if out_idx is not None:
        shape[0] = out_idx.shape[0]
    if in_idx is not None:
        shape[1] = in_idx.shape[0]
    return w.new_empty(shape)
