"""Measuring sparsity: fraction of exact zeros, per tensor and in total."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def tensor_stats(t: torch.Tensor) -> dict:
    numel = t.numel()
    nnz = int(torch.count_nonzero(t).item()) if numel else 0
    return {"shape": list(t.shape), "numel": numel, "nnz": nnz,
            "sparsity": (1.0 - nnz / numel) if numel else 0.0}


def summarize(model: nn.Module, targeted: Iterable[str] = ()) -> dict:
    """Sparsity of every parameter, of all parameters, of all weight matrices/kernels
    (dim ≥ 2), and of the targeted (pruned) tensors."""
    targeted = set(targeted)
    layers = {}
    totals = {"total": [0, 0], "weights": [0, 0], "targeted": [0, 0]}
    for name, p in model.named_parameters():
        stats = tensor_stats(p.detach())
        layers[name] = stats
        groups = (["total"] + (["weights"] if p.dim() >= 2 else [])
                  + (["targeted"] if name in targeted else []))
        for g in groups:
            totals[g][0] += stats["numel"]
            totals[g][1] += stats["nnz"]
    out = {g: (1.0 - nnz / numel) if numel else 0.0 for g, (numel, nnz) in totals.items()}
    out["params"] = totals["total"][0]
    out["nonzero_params"] = totals["total"][1]
    out["layers"] = layers
    return out
