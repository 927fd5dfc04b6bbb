"""Pure-PyTorch implementations of the mask, criteria and gather ops.

The wrappers in :mod:`.masks`, :mod:`.structured` and :mod:`.thinning` run these
instead of the C++ kernels for tensors on a device that has no compressor kernel (CUDA:
the whole training loop stays on the GPU) and for every tensor when the environment
variable ``COMPRESSOR_REFERENCE_OPS`` is ``1`` (read on every call; how the tests run
this path on the CPU). They give the kernels' results: the same masks (exactly ``k``
pruned, ties to the lower index, NaN above ``+inf``), the same dtypes and shapes, and
scores equal up to float rounding. Two documented differences: NaNs of different bit
patterns tie here (the kernels order them by their bits), and ``fpgm_scores`` sums
explicit pairwise distances, not the kernel's Gram-matrix form.

Errors are raised as the kernels raise them: ``RuntimeError`` starting with
``compressor.<op>:`` and naming the argument.
"""

from __future__ import annotations

import math

import torch

__all__ = ["apply_mask_", "block_mask", "fpgm_scores", "gather_channels", "global_magnitude_masks",
           "magnitude_mask", "magnitude_threshold", "nm_mask", "structure_norms"]

_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _check(ok: bool, op: str, message: str) -> None:
    if not ok:
        raise RuntimeError(f"compressor.{op}: {message}")


def _check_float(op: str, name: str, w: torch.Tensor) -> None:
    _check(w.dtype in _FLOATS, op, f"{name} must be float32, float64, float16 or bfloat16, got {w.dtype}")


def _pruned_count(op: str, sparsity: float, numel: int) -> int:
    _check(0.0 <= sparsity <= 1.0, op, f"sparsity must be in [0, 1], got {sparsity}")
    return round(sparsity * numel)  # half to even, as the kernels and torch.nn.utils.prune


def _keep_all_but_smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Flat keep-mask pruning the ``k`` smallest ``scores`` (a stable sort: ties go to the
    lower index; NaN sorts above +inf)."""
    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    if k:
        keep[torch.sort(scores.flatten(), stable=True).indices[:k]] = False
    return keep


def magnitude_threshold(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    op = "magnitude_threshold"
    _check_float(op, "w", w)
    k = _pruned_count(op, sparsity, w.numel())
    if k == 0:
        return torch.tensor(-math.inf, dtype=w.dtype, device=w.device)
    return torch.sort(w.abs().flatten()).values[k - 1]


def magnitude_mask(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    op = "magnitude_mask"
    _check_float(op, "w", w)
    k = _pruned_count(op, sparsity, w.numel())
    return _keep_all_but_smallest(w.abs(), k).view(w.shape)


def global_magnitude_masks(ws: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    op = "global_magnitude_masks"
    for i, w in enumerate(ws):
        _check_float(op, f"ws[{i}]", w)
    _check(len({w.dtype for w in ws}) <= 1, op,
           f"all tensors in ws must share one dtype, got {sorted(str(w.dtype) for w in ws)}")
    if not ws:
        return []
    flat = torch.cat([w.abs().flatten() for w in ws])
    keep = _keep_all_but_smallest(flat, _pruned_count(op, sparsity, flat.numel()))
    return [m.view(w.shape) for m, w in zip(keep.split([w.numel() for w in ws]), ws)]


def apply_mask_(w: torch.Tensor, mask: torch.Tensor) -> None:
    op = "apply_mask_"
    _check_float(op, "w", w)
    _check(mask.dtype == torch.bool, op, f"mask must be bool, got {mask.dtype}")
    _check(mask.shape == w.shape, op, f"mask must have w's shape {list(w.shape)}, got {list(mask.shape)}")
    w.masked_fill_(~mask, 0.0)


def _score_dtype(w: torch.Tensor) -> torch.dtype:
    return torch.float64 if w.dtype == torch.float64 else torch.float32


def _as_matrix(op: str, w: torch.Tensor) -> torch.Tensor:
    _check_float(op, "w", w)
    _check(w.dim() >= 1, op, "w must have at least one dimension")
    return w.reshape(1, -1) if w.dim() == 1 else w.reshape(w.shape[0], math.prod(w.shape[1:]))


def structure_norms(w: torch.Tensor, dim: int = 0, p: float = 2) -> torch.Tensor:
    op = "structure_norms"
    _check_float(op, "w", w)
    _check(w.dim() >= 1, op, "w must have at least one dimension")
    _check(-w.dim() <= dim < w.dim(), op, f"dim {dim} is out of range for a {w.dim()}-D w")
    _check(p in (1, 2), op, f"p must be 1 or 2, got {p}")
    slices = w.double().movedim(dim, 0)
    rows = slices.reshape(slices.shape[0], math.prod(slices.shape[1:]))
    return rows.norm(p, dim=1).to(_score_dtype(w))


def fpgm_scores(w: torch.Tensor) -> torch.Tensor:
    op = "fpgm_scores"
    _check_float(op, "w", w)
    _check(w.dim() >= 1, op, "w must have at least one dimension")
    n = w.shape[0]
    filters = w.double().reshape(n, math.prod(w.shape[1:]))
    if n <= 1 or filters.shape[1] == 0:
        return torch.zeros(n, dtype=_score_dtype(w), device=w.device)
    distances = torch.stack([(filters - f).norm(dim=1) for f in filters])  # n x n, no n x n x d
    return distances.sum(1).to(_score_dtype(w))


def nm_mask(w: torch.Tensor, n: int, m: int) -> torch.Tensor:
    op = "nm_mask"
    mat = _as_matrix(op, w)
    _check(m >= 1, op, f"m must be at least 1, got {m}")
    _check(1 <= n <= m, op, f"n must be in [1, m={m}], got {n}")
    _check(mat.shape[1] % m == 0, op, f"m={m} must divide the {mat.shape[1]} columns of w")
    groups = mat.abs().reshape(-1, m)
    # A stable descending sort: the lower index wins a tie, NaN sorts above +inf.
    order = torch.sort(groups, dim=1, descending=True, stable=True).indices
    keep = torch.zeros(groups.shape, dtype=torch.bool, device=w.device)
    keep.scatter_(1, order[:, :n], True)
    return keep.reshape(w.shape)


def block_mask(w: torch.Tensor, block_rows: int, block_cols: int, sparsity: float) -> torch.Tensor:
    op = "block_mask"
    mat = _as_matrix(op, w)
    rows, cols = mat.shape
    _check(block_rows >= 1 and block_cols >= 1, op,
           f"block sizes must be at least 1, got {block_rows}x{block_cols}")
    _check(rows % block_rows == 0, op, f"block_rows={block_rows} must divide the {rows} rows of w")
    _check(cols % block_cols == 0, op, f"block_cols={block_cols} must divide the {cols} columns of w")
    scores = mat.double().abs().reshape(rows // block_rows, block_rows, cols // block_cols,
                                        block_cols).sum((1, 3))
    keep = _keep_all_but_smallest(scores, _pruned_count(op, sparsity, scores.numel()))
    grid = keep.reshape(scores.shape)
    return grid.repeat_interleave(block_rows, 0).repeat_interleave(block_cols, 1).reshape(w.shape)


def _check_index(op: str, name: str, idx: torch.Tensor | None, size: int) -> None:
    if idx is None:
        return
    _check(idx.dim() == 1 and idx.dtype == torch.int64, op,
           f"{name} must be a 1-D int64 tensor, got {idx.dim()}-D {idx.dtype}")
    if idx.numel():
        low, high = int(idx.min()), int(idx.max())
        _check(low >= 0 and high < size, op,
               f"{name} holds {high if high >= size else low}, outside [0, {size})")


def gather_channels(w: torch.Tensor, out_idx: torch.Tensor | None,
                    in_idx: torch.Tensor | None) -> torch.Tensor:
    op = "gather_channels"
    _check(w.dtype in (*_FLOATS, torch.bool), op, f"w must be a float or bool tensor, got {w.dtype}")
    _check(w.dim() >= 1, op, "w must have at least one dimension")
    _check(w.dim() >= 2 or in_idx is None, op, "in_idx must be None for a 1-D w")
    _check_index(op, "out_idx", out_idx, w.shape[0])
    if out_idx is not None:
        w = w.index_select(0, out_idx)
    if in_idx is not None:
        _check_index(op, "in_idx", in_idx, w.shape[1])
        w = w.index_select(1, in_idx)
    return w.contiguous()
