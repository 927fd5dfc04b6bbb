"""``compress sparse``: a sparse-kernel inference checkpoint from any compressor checkpoint.

The checkpoint (dense, masked or thinned) is rebuilt with :func:`dense_model_from_state`, its
stored masks are applied, optionally its structured zeros are thinned away, and
:func:`compressor.sparse.convert` picks per layer the fastest of the packed formats or
dense. The result is written as plain data (``torch.load(weights_only=True)`` reads
it; no pickled modules)::

    phase: "sparse"
    model_spec: the architecture (learned scaling factors folded into the weights)
    thinning: the thinning recipe, or None
    model: state dict of everything that stayed dense (converted layers excluded)
    sparse:
      version: 2              (1: no "batchnorm" entries; still read)
      layers: {name: {"kind": "Linear" | "Conv2d", "format": "csr" | "4x1" | "1x4" | "2:4",
                      "in": int, "out": int,                       # features / channels
                      "kernel_size", "stride", "padding", "dilation", "hwc",   # Conv2d
                      "relu": bool,
                      "batchnorm": name     # Conv2d only: a BatchNorm folded in (now Identity)
                      "buffers": {"values", "col_idx", "row_ptr"   # csr / 4x1 / 1x4
                                  | "values", "indices",           # 2:4
                                  "bias" (when the layer has one)}}}
      summary: [{"layer", "kind", "shape", "sparsity", "format", "reason", "times_ms",
                 "batchnorm"}]
      min_sparsity, measured, batch_size, thinned_here, source, fold_batchnorm

:func:`sparse_model_from_state` (used by ``compressor.load``) rebuilds the model:
dense architecture, thinning recipe, the recorded layers swapped for empty
``SparseLinear`` / ``SparseConv2d`` of their format, folded BatchNorms replaced by
``nn.Identity``, then every buffer loaded.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine.thinning import apply_recipe, thinning_recipe
from ..errors import CheckpointError, CompressorError
from ..sparse import SparseConv2d, SparseLinear, convert, replace_modules
from .checkpoint import Phase, is_sparse_state, load_checkpoint, save_checkpoint
from .spec import (
    apply_stored_masks,
    build_from_spec,
    dense_model_from_state,
    example_for,
    inference_spec,
    thin_zeroed,
)

SPARSE_VERSION = 2
_READABLE_VERSIONS = (1, 2)

__all__ = ["densify", "format_summary", "sparse_checkpoint", "sparse_model_from_state"]


def _record(module: nn.Module, batchnorm: str) -> dict[str, Any]:
    buffers = {k: v.detach().clone() for k, v in module.state_dict().items()}
    if isinstance(module, SparseLinear):
        return {"kind": "Linear", "format": module.format, "in": module.in_features,
                "out": module.out_features, "relu": module.relu, "buffers": buffers}
    assert isinstance(module, SparseConv2d)
    return {"kind": "Conv2d", "format": module.format, "in": module.in_channels,
            "out": module.out_channels, "kernel_size": list(module.kernel_size),
            "stride": list(module.stride), "padding": list(module.padding),
            "dilation": list(module.dilation), "hwc": module.hwc, "relu": module.relu,
            "buffers": buffers, **({"batchnorm": batchnorm} if batchnorm else {})}


def sparse_checkpoint(path: str | Path, out: str | Path, *, min_sparsity: float = 0.5,
                      batch_size: int = 1, measure: bool = True, thin: bool = False,
                      time_budget: float = 2.0, fold_batchnorm: bool = True, log=print) -> dict:
    """``compress sparse``: convert the model of checkpoint ``path`` and write the sparse
    inference checkpoint ``out``. Returns the ``sparse`` entry written (summary included)."""
    if not 0.0 <= min_sparsity <= 1.0:
        raise CompressorError(f"sparse: --min-sparsity must be in [0, 1], got {min_sparsity}")
    if batch_size < 1:
        raise CompressorError(f"sparse: --batch-size must be at least 1, got {batch_size}")
    if not time_budget >= 0:
        raise CompressorError(f"sparse: --time-budget must be >= 0 seconds, got {time_budget}")
    source = str(path)
    state = load_checkpoint(path)
    if is_sparse_state(state):
        raise CheckpointError(f"{source} is already a sparse inference checkpoint (`compress "
                              "sparse`); give the checkpoint it was made from")
    model = dense_model_from_state(state, source).eval()
    masks = apply_stored_masks(model, state, source)
    example = example_for(state)
    thinned_here = 0
    if thin:
        thinned_here = thin_zeroed(model, example, masks)
        if thinned_here:
            log(f"sparse: removed {thinned_here} zeroed channels first (thinning)")
    shapes = {name: list(m.weight.shape) for name, m in model.named_modules()
              if isinstance(m, (nn.Linear, nn.Conv2d))}
    x = torch.randn(batch_size, *example.shape[1:], generator=torch.Generator().manual_seed(0))
    report: list = []
    t0 = time.perf_counter()
    with torch.no_grad():
        converted = convert(model, min_sparsity=min_sparsity, measure=measure, example_inputs=(x,),
                            time_budget=time_budget, fold_batchnorm=fold_batchnorm, report=report)
    log(f"sparse: conversion took {time.perf_counter() - t0:.1f} s")
    folded = {c.name: c.batchnorm for c in report}
    layers = {name: _record(m, folded.get(name, "")) for name, m in converted.named_modules()
              if isinstance(m, (SparseLinear, SparseConv2d))}
    packed_keys = {f"{name}.{b}" for name, rec in layers.items() for b in rec["buffers"]}
    dense_state = {k: v.detach().cpu() for k, v in converted.state_dict().items() if k not in packed_keys}
    summary = [{"layer": c.name, "kind": c.kind, "shape": shapes.get(c.name, []),
                "sparsity": float(c.sparsity), "format": c.choice, "reason": c.reason,
                "times_ms": {k: float(v) for k, v in c.times_ms.items()},
                "batchnorm": c.batchnorm} for c in report]
    entry = {"version": SPARSE_VERSION, "layers": layers, "summary": summary,
             "min_sparsity": float(min_sparsity), "measured": bool(measure),
             "batch_size": int(batch_size), "thinned_here": thinned_here, "source": source,
             "fold_batchnorm": bool(fold_batchnorm)}
    save_checkpoint(out, {"phase": Phase.SPARSE.value, "model_spec": inference_spec(state["model_spec"]),
                          "thinning": thinning_recipe(model), "model": dense_state,
                          "sparse": entry, "dense": state.get("dense")})
    return entry


def format_summary(entry: dict) -> str:
    """The per-layer table of a ``sparse`` entry (layer, shape, sparsity, format, why)."""
    rows = [("layer", "kind", "shape", "sparsity", "format", "why")]
    for s in entry["summary"]:
        why = s["reason"]
        if s["times_ms"]:
            best = ", ".join(f"{k} {v:.3f}" for k, v in sorted(s["times_ms"].items(), key=lambda kv: kv[1]))
            why = f"{why}: ms {best}"
        if s.get("batchnorm"):
            why = f"{why}; {s['batchnorm']} folded in"
        rows.append((s["layer"], s["kind"], "x".join(map(str, s["shape"])),
                     f"{100 * s['sparsity']:.1f}%", s["format"], why))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    converted = sum(1 for s in entry["summary"] if s["format"] != "dense")
    lines.append(f"{converted} of {len(entry['summary'])} Linear/Conv2d layers use a sparse format")
    return "\n".join(line.rstrip() for line in lines)


# ---- loading ---------------------------------------------------------------------------------

def _empty_sparse(name: str, rec: Any, dense: nn.Module, source: str) -> nn.Module:
    where = f"{source}: sparse.layers[{name!r}]"
    if not isinstance(rec, dict) or not isinstance(rec.get("buffers"), dict):
        raise CheckpointError(f"{where} is not a layer record with 'buffers'")
    try:
        kind, fmt, inp, out = rec["kind"], rec["format"], int(rec["in"]), int(rec["out"])
        bias = "bias" in rec["buffers"]
        if kind == "Linear":
            if not isinstance(dense, nn.Linear) or (dense.in_features, dense.out_features) != (inp, out):
                raise CheckpointError(f"{where}: a Linear {inp}→{out} does not fit the model's {dense}")
            return SparseLinear(inp, out, bias, format=fmt, relu=bool(rec.get("relu", False)))
        if kind == "Conv2d":
            geometry = [tuple(int(v) for v in rec[k])
                        for k in ("kernel_size", "stride", "padding", "dilation")]
            if not isinstance(dense, nn.Conv2d) or (dense.in_channels, dense.out_channels) != (inp, out) \
                    or (tuple(dense.kernel_size), tuple(dense.stride), tuple(dense.dilation)) != \
                    (geometry[0], geometry[1], geometry[3]):
                raise CheckpointError(f"{where}: a Conv2d {inp}→{out} kernel {geometry[0]} stride "
                                      f"{geometry[1]} dilation {geometry[3]} does not fit the "
                                      f"model's {dense}")
            return SparseConv2d(inp, out, *geometry, bias, format=fmt, hwc=bool(rec.get("hwc", False)),
                                relu=bool(rec.get("relu", False)))
        raise CheckpointError(f"{where}: kind {kind!r} is neither 'Linear' nor 'Conv2d'")
    except KeyError as exc:
        raise CheckpointError(f"{where}: no {exc.args[0]!r} entry") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: {exc}") from None


def sparse_model_from_state(state: dict, source: str) -> nn.Module:
    """The sparse-kernel model of a ``compress sparse`` checkpoint (eval mode)."""
    spec, entry, weights = state.get("model_spec"), state.get("sparse"), state.get("model")
    if not isinstance(spec, dict):
        raise CheckpointError(f"{source}: no model_spec entry; was it written by `compress`?")
    if not isinstance(entry, dict) or not isinstance(entry.get("layers"), dict):
        raise CheckpointError(f"{source}: the 'sparse' entry has no 'layers' mapping")
    if entry.get("version") not in _READABLE_VERSIONS:
        raise CheckpointError(f"{source}: sparse entry version {entry.get('version')!r}; this "
                              f"compressor reads {', '.join(map(str, _READABLE_VERSIONS))}")
    if not isinstance(weights, dict):
        raise CheckpointError(f"{source}: no 'model' entry (the weights of the dense layers)")
    model = build_from_spec(spec)
    if state.get("thinning"):
        apply_recipe(model, state["thinning"], source=source)
    modules = dict(model.named_modules())
    swap: dict[int, nn.Module] = {}
    full = dict(weights)
    for name, rec in entry["layers"].items():
        if name not in modules:
            raise CheckpointError(f"{source}: sparse.layers[{name!r}]: {spec.get('arch')} has no "
                                  "such layer")
        swap[id(modules[name])] = _empty_sparse(name, rec, modules[name], source)
        if isinstance(rec, dict) and "batchnorm" in rec:
            bn = rec["batchnorm"]
            if not isinstance(modules.get(bn), nn.BatchNorm2d):
                raise CheckpointError(f"{source}: sparse.layers[{name!r}].batchnorm: {bn!r} is "
                                      f"not a BatchNorm2d of {spec.get('arch')}")
            swap[id(modules[bn])] = nn.Identity()
        full.update({f"{name}.{b}": t for b, t in rec["buffers"].items()})
    replace_modules(model, swap)
    try:
        model.load_state_dict(full)
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: sparse weights do not fit {spec.get('arch')}: {exc}") from None
    return model.eval()


def densify(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every SparseLinear / SparseConv2d turned back into the
    dense ``nn.Linear`` / ``nn.Conv2d`` of the same (masked) weight."""
    model = copy.deepcopy(model)
    swap: dict[int, nn.Module] = {}
    for m in model.modules():
        if isinstance(m, SparseLinear):
            d = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        elif isinstance(m, SparseConv2d):
            d = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                          m.dilation, bias=m.bias is not None)
        else:
            continue
        with torch.no_grad():
            d.weight.copy_(m.dense_weight())
            if m.bias is not None:
                d.bias.copy_(m.bias)
        swap[id(m)] = nn.Sequential(d, nn.ReLU()) if m.relu else d
    replace_modules(model, swap)
    return model.eval()
