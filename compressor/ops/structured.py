"""Typed wrappers of the structured-pruning criteria ``torch.ops.compressor.*``.

Schemas live in ``csrc/ops/structured.cpp``, CPU kernels in
``csrc/ops/cpu/structured_kernel.cpp``; tensors on a device without a kernel (CUDA) run
the torch implementations of :mod:`.reference`. Each op has a fake (meta) implementation
registered next to its wrapper, so the ops trace under ``torch.compile`` and run on
FakeTensors and meta tensors.

Conventions (shared with :mod:`compressor.ops.masks`):

* ``w`` is float32, float16, bfloat16 or float64, of any shape with at least one
  dimension and any strides; inputs are never modified.
* Scores (:func:`structure_norms`, :func:`fpgm_scores`) are accumulated in float64
  and returned as float64 for a float64 ``w``, float32 otherwise (a float16 score
  would round distinct structures to ties). They do not depend on the thread count
  (``fpgm_scores`` up to the BLAS GEMM it calls).
* The mask ops view ``w`` as a matrix ``[rows, cols]``: ``rows = w.shape[0]``, ``cols``
  the product of the other sizes (for a conv weight ``[out, in, kh, kw]``,
  ``cols = in * kh * kw``); a 1-D ``w`` is a single row ``[1, numel]``. Masks are
  bool, shaped like ``w``, contiguous, True = keep.
* Magnitudes are ``|x|`` with NaN above ``+inf`` and ``-0.0 == +0.0``; ties go to the
  lower index.

These are no-grad utilities: the wrappers run under ``torch.no_grad()`` and the ops
have no autograd formula.

Argument checks: the wrappers reject what never reaches a kernel (non-tensors,
non-integer sizes, a ``p`` or ``sparsity`` that is not a number, sparse layouts,
devices without a kernel) with ``TypeError`` / ``ValueError``; the kernels reject
wrong dtypes, shapes and out-of-range values with ``RuntimeError``. Every message
starts with ``compressor.<op>:`` and names the argument.
"""

from __future__ import annotations

import numbers

import torch

from . import reference
from ._checks import check_int, check_sparsity, check_tensor, use_reference

__all__ = ["block_mask", "fpgm_scores", "nm_mask", "structure_norms"]

_OPS = torch.ops.compressor


def _score_dtype(w: torch.Tensor) -> torch.dtype:
    return torch.float64 if w.dtype == torch.float64 else torch.float32


def structure_norms(w: torch.Tensor, dim: int = 0, p: float = 2) -> torch.Tensor:
    """Lp norm (``p`` = 1 or 2) of each slice ``w.select(dim, i)``.

    ``dim=0`` gives one value per output filter / neuron, ``dim=1`` one per input
    channel; negative ``dim`` counts from the end. Equals
    ``w.transpose(0, dim).flatten(1).norm(p, dim=1)`` (for a 1-D ``w``: ``|w|``), of
    shape ``[w.shape[dim]]``, float64 for a float64 ``w`` and float32 otherwise,
    accumulated in float64. Empty slices have norm 0.

    Raises:
        TypeError: ``w`` is not a tensor, ``dim`` not an int or ``p`` not a number.
        RuntimeError: unsupported dtype, 0-dim ``w``, ``dim`` out of range, or ``p``
            not 1 or 2.
    """
    op = "structure_norms"
    check_tensor(op, "w", w)
    d = check_int(op, "dim", dim)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"compressor.{op}: p must be 1 or 2, got {type(p).__name__}")
    with torch.no_grad():
        if use_reference(op, w):
            return reference.structure_norms(w, d, float(p))
        return _OPS.structure_norms(w, d, float(p))


@torch.library.register_fake("compressor::structure_norms")
def _structure_norms_fake(w: torch.Tensor, dim: int, p: float) -> torch.Tensor:
    return w.new_empty((w.shape[dim],), dtype=_score_dtype(w))


def fpgm_scores(w: torch.Tensor) -> torch.Tensor:
    """FPGM redundancy score of each filter ``w[i]`` (flattened): ``Σ_j ||w_i − w_j||₂``.

    Equals ``torch.cdist(f, f).sum(1)`` with ``f = w.reshape(w.shape[0], -1)`` in
    float64 (a 1-D ``w`` has scalar filters). Filters with the smallest sums lie
    nearest the geometric median of the layer's filters: they are the most
    replaceable and are pruned first (He et al., 2019). Computed in float64 through
    the Gram matrix of the mean-centred filters (one GEMM), which matches explicit
    pairwise differences to ~1e-10 relative even when the filters share a large
    common part; returned as float64 for a float64 ``w``, float32 otherwise, shape
    ``[w.shape[0]]``. Zeros when there is at most one filter or the filters are
    empty; NaN everywhere when ``w`` holds a NaN or inf. Memory: a float64 copy of
    ``w`` plus ~2 MB of Gram rows at a time; time ``O(out² · numel / out)``.

    Raises:
        TypeError: ``w`` is not a tensor.
        RuntimeError: unsupported dtype or 0-dim ``w``.
    """
    op = "fpgm_scores"
    check_tensor(op, "w", w)
    with torch.no_grad():
        if use_reference(op, w):
            return reference.fpgm_scores(w)
        return _OPS.fpgm_scores(w)


@torch.library.register_fake("compressor::fpgm_scores")
def _fpgm_scores_fake(w: torch.Tensor) -> torch.Tensor:
    return w.new_empty((w.shape[0],), dtype=_score_dtype(w))


def nm_mask(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """N:M semi-structured keep-mask (e.g. ``n=2, m=4`` for 2:4 sparsity).

    Along each row of ``w`` viewed as ``[rows, cols]``, every run of ``m`` consecutive
    entries keeps the ``n`` with the largest ``|w|``; among equal magnitudes the lower
    index is kept. ``m`` must divide ``cols``; ``0 < n <= m``.

    Raises:
        TypeError: ``w`` is not a tensor or ``n`` / ``m`` not ints.
        RuntimeError: unsupported dtype, 0-dim ``w``, ``m < 1``, ``n`` not in
            ``[1, m]``, or ``m`` not dividing ``cols``.
    """
    op = "nm_mask"
    check_tensor(op, "w", w)
    n_ = check_int(op, "n", n)
    m_ = check_int(op, "m", m)
    with torch.no_grad():
        if use_reference(op, w):
            return reference.nm_mask(w, n_, m_)
        return _OPS.nm_mask(w, n_, m_)


@torch.library.register_fake("compressor::nm_mask")
def _nm_mask_fake(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    return torch.empty(w.shape, dtype=torch.bool, device=w.device)


def block_mask(w: torch.Tensor, block_rows: int, block_cols: int, sparsity: float) -> torch.Tensor:
    """Block keep-mask: ``w`` viewed as ``[rows, cols]`` is cut into
    ``block_rows × block_cols`` blocks scored by their L1 norm (float64 sums), and the
    ``k = round(sparsity · blocks)`` lowest-scoring blocks are pruned (round half to
    even; ties: the lower row-major block index is pruned first; NaN scores last).

    Exactly ``k`` blocks are False. ``block_rows`` must divide ``rows`` and
    ``block_cols`` divide ``cols``.

    Raises:
        TypeError: ``w`` is not a tensor, the block sizes not ints or ``sparsity`` not
            a number.
        RuntimeError: unsupported dtype, 0-dim ``w``, a block size below 1 or not
            dividing the matrix, or ``sparsity`` outside [0, 1].
    """
    op = "block_mask"
    check_tensor(op, "w", w)
    br = check_int(op, "block_rows", block_rows)
    bc = check_int(op, "block_cols", block_cols)
    s = check_sparsity(op, sparsity)
    with torch.no_grad():
        if use_reference(op, w):
            return reference.block_mask(w, br, bc, s)
        return _OPS.block_mask(w, br, bc, s)


@torch.library.register_fake("compressor::block_mask")
def _block_mask_fake(w: torch.Tensor, block_rows: int, block_cols: int,
                     sparsity: float) -> torch.Tensor:
    return torch.empty(w.shape, dtype=torch.bool, device=w.device)
