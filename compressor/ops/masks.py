"""Typed wrappers of the mask operators ``torch.ops.compressor.*`` (magnitude selection).

Schemas live in ``csrc/ops/masks.cpp``, CPU kernels in ``csrc/ops/cpu/``; tensors on a
device without a kernel (CUDA) run the torch implementations of :mod:`.reference`. Each op
has a fake (meta) implementation registered next to its wrapper, so the ops trace
under ``torch.compile`` and run on FakeTensors and meta tensors.

Conventions shared by the selection ops:

* The magnitude of ``x`` is ``|x|``; NaN counts as larger than ``+inf`` (as
  ``torch.kthvalue`` and ``torch.topk`` order it; NaNs with different bit
  patterns are ordered by their bits).
* ``k = round(sparsity * numel)`` entries are pruned, rounding half to even like
  Python's ``round`` and ``torch.nn.utils.prune``; ``sparsity`` must be in [0, 1].
* Exactly ``k`` entries are pruned: all with ``|w|`` below the threshold, then, among
  those equal to it, the lowest flat (row-major) indices first, and across a list of
  tensors the lowest (list index, flat index) first. Without ties this is the mask
  of ``torch.nn.utils.prune.l1_unstructured`` / ``global_unstructured``.
* Supported dtypes: float32, float16, bfloat16 and float64; any shape and strides.

These are no-grad utilities: the wrappers run under ``torch.no_grad()`` and the ops
have no autograd formula.

Argument checks: the wrappers reject what never reaches a kernel (non-tensors, a
sparsity that is not a number, sparse layouts, devices without a kernel) with
``TypeError`` / ``ValueError``; the kernels reject wrong dtypes, shapes and
sparsity values with ``RuntimeError``. Every message starts with
``compressor.<op>:`` and names the argument.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import reference
from ._checks import check_sparsity, check_tensor, use_reference

__all__ = ["apply_mask_", "global_magnitude_masks", "magnitude_mask", "magnitude_threshold"]

_OPS = torch.ops.compressor


def _run_on_one_tensor(op: str, w: torch.Tensor, sparsity: float) -> torch.Tensor:
    check_tensor(op, "w", w)
    s = check_sparsity(op, sparsity)
    with torch.no_grad():
        if use_reference(op, w):
            return getattr(reference, op)(w, s)
        return getattr(_OPS, op)(w, s)


def magnitude_threshold(w: torch.Tensor, sparsity: float) -> float:
    """The ``k``-th smallest ``|w|``, ``k = round(sparsity * w.numel())``.

    Exactly ``w.abs().flatten().kthvalue(k).values`` (a value of ``w``'s dtype, as a
    Python float), found by a radix select in one to four passes over ``w``
    (one for 16-bit dtypes, two for float32). When ``k == 0`` (sparsity 0, or an
    empty ``w``) the result is ``-inf``: no magnitude is at or below it.

    Raises:
        TypeError: ``w`` is not a tensor or ``sparsity`` not a real number.
        RuntimeError: unsupported dtype, or ``sparsity`` outside [0, 1].
    """
    return float(_run_on_one_tensor("magnitude_threshold", w, sparsity))


@torch.library.register_fake("compressor::magnitude_threshold")
def _magnitude_threshold_fake(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    return w.new_empty(())


def magnitude_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep-mask of ``w`` (bool, ``w``'s shape, contiguous; True = keep) pruning the
    ``k = round(sparsity * w.numel())`` smallest ``|w|``.

    Exactly ``k`` entries are False; ties at the threshold are pruned in increasing
    flat index.

    Raises:
        TypeError: ``w`` is not a tensor or ``sparsity`` not a real number.
        RuntimeError: unsupported dtype, or ``sparsity`` outside [0, 1].
    """
    return _run_on_one_tensor("magnitude_mask", w, sparsity)


@torch.library.register_fake("compressor::magnitude_mask")
def _magnitude_mask_fake(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    return torch.empty(w.shape, dtype=torch.bool, device=w.device)


def global_magnitude_masks(ws: Sequence[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Keep-masks (one per tensor, as :func:`magnitude_mask`) that prune
    ``k = round(sparsity * total numel)`` entries by ``|w|`` across all of ``ws``.

    All tensors must share one dtype. Ties are pruned in increasing (list index,
    flat index). Without ties the masks are those of
    ``torch.nn.utils.prune.global_unstructured(..., pruning_method=L1Unstructured,
    amount=k)``. The tensors are read in place (no concatenated copy).

    Raises:
        TypeError: ``ws`` is not a sequence of tensors or ``sparsity`` not a number.
        ValueError: the tensors are on different devices.
        RuntimeError: unsupported or mixed dtypes, or ``sparsity`` outside [0, 1].
    """
    op = "global_magnitude_masks"
    if isinstance(ws, torch.Tensor) or not isinstance(ws, Sequence):
        raise TypeError(f"compressor.{op}: ws must be a sequence of tensors, "
                        f"got {type(ws).__name__}")
    tensors = [check_tensor(op, f"ws[{i}]", w) for i, w in enumerate(ws)]
    devices = {w.device for w in tensors}
    if len(devices) > 1:
        raise ValueError(f"compressor.{op}: all tensors in ws must be on one device, "
                         f"got {sorted(map(str, devices))}")
    s = check_sparsity(op, sparsity)
    if not tensors:  # the dispatcher needs a tensor to pick a kernel
        return []
    with torch.no_grad():
        if use_reference(op, tensors[0]):
            return reference.global_magnitude_masks(tensors, s)
        return list(_OPS.global_magnitude_masks(tensors, s))


@torch.library.register_fake("compressor::global_magnitude_masks")
def _global_magnitude_masks_fake(ws: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    return [torch.empty(w.shape, dtype=torch.bool, device=w.device) for w in ws]


def apply_mask_(w: torch.Tensor, mask: torch.Tensor) -> None:
    """Zero ``w`` where ``mask`` is False, in place, in one pass.

    ``mask`` must be a bool tensor of ``w``'s shape. Pruned entries become +0.0 (as
    ``masked_fill``; unlike ``w.mul_(mask)``, a pruned NaN or inf also becomes 0).
    Works for any strides of ``w``; only ``w`` with self-overlapping memory (from
    ``expand``) is refused. Meant to run after every optimizer step: blocks whose mask
    is all True are skipped and blocks already zero are not written.

    Raises:
        TypeError: ``w`` or ``mask`` is not a tensor.
        ValueError: ``mask`` is on another device than ``w``.
        RuntimeError: unsupported dtype of ``w``, ``mask`` not bool or not ``w``'s
            shape, or ``w`` self-overlapping.
    """
    op = "apply_mask_"
    check_tensor(op, "w", w)
    check_tensor(op, "mask", mask)
    if mask.device != w.device:
        raise ValueError(f"compressor.{op}: mask must be on w's device ({w.device}), "
                         f"got {mask.device}")
    with torch.no_grad():
        if use_reference(op, w):
            reference.apply_mask_(w, mask)
        else:
            _OPS.apply_mask_(w, mask)


@torch.library.register_fake("compressor::apply_mask_")
def _apply_mask_fake(w: torch.Tensor, mask: torch.Tensor) -> None:
    return None
