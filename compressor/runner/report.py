"""report.json (machine-readable) and report.md (for people) for a finished run."""

from __future__ import annotations

import copy
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .. import __version__
from ..engine.sparsity import summarize
from ..engine.thinning import TOTAL, count_macs
from ..models import build_model
from ..nn.scaling import fold_scaling_factors
from ..ops import cpu_isa

if TYPE_CHECKING:  # annotations only: the run writes its report
    from .run import CompressionRun


def structure_report(run: CompressionRun) -> dict:
    """Per module: shape, params and MACs (per sample) of the dense model and of the
    final one (smaller after thinning), plus totals."""
    info = run.info
    dense = build_model(run.schedule.model.arch, num_classes=info.num_classes,
                        in_channels=info.channels, image_size=info.image_size,
                        **run.schedule.model.options)
    example = torch.zeros(1, info.channels, info.image_size, info.image_size)
    final = fold_scaling_factors(copy.deepcopy(run.model).cpu())  # as compressor.load gives it
    before, after = count_macs(dense, example), count_macs(final, example)
    layers = {}
    for name, counts in before.items():
        if name == TOTAL:
            continue
        weight_before = getattr(dense.get_submodule(name), "weight", None)
        weight_after = getattr(final.get_submodule(name), "weight", None)
        now = after.get(name, {"macs": 0, "params": 0})
        layers[name] = {
            "shape_before": list(weight_before.shape) if weight_before is not None else [],
            "shape_after": list(weight_after.shape) if weight_after is not None else [],
            "params_before": counts["params"], "params_after": now["params"],
            "macs_before": counts["macs"], "macs_after": now["macs"]}
    totals = {"params_before": before[TOTAL]["params"], "params_after": after[TOTAL]["params"],
              "macs_before": before[TOTAL]["macs"], "macs_after": after[TOTAL]["macs"]}
    return {"layers": layers, "totals": totals}


def build_report(run: CompressionRun, final: dict, final_checkpoint: Path) -> dict:
    scheduler = run.scheduler
    targeted = scheduler.targeted
    levels = scheduler.target_levels(max(run.training.epochs - 1, 0))
    stats = summarize(run.model, targeted)
    for name, layer in stats["layers"].items():
        layer["pruned"] = name in targeted
        if name in levels:
            layer["target"] = levels[name]
    return {
        "compressor_version": __version__,
        "schedule": run.schedule.path,
        "model": {"arch": run.schedule.model.arch, "params": stats["params"],
                  "nonzero_params": stats["nonzero_params"]},
        "data": {"dataset": run.schedule.data.dataset, "train_samples": len(run.train_split.labels),
                 "test_samples": len(run.test_split.labels)},
        "dense": run.dense_metrics,
        "final": final,
        "sparsity": {k: stats[k] for k in ("total", "weights", "targeted", "layers")},
        "pruners": {name: {"type": run.schedule.pruners[name].type,
                           "criterion": pruner.config.criterion,
                           "scope": pruner.config.scope, "params": pruner.param_names,
                           **({"groups": pruner.group_descriptions}
                              if hasattr(pruner, "group_descriptions") else {})}
                    for name, pruner in scheduler.pruners.items()},
        "epochs": run.history,
        "structure": structure_report(run),
        "thinning": scheduler.events,
        "checkpoint": str(final_checkpoint),
        "timing": run.timing,
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "threads": torch.get_num_threads(), "device": str(run.device),
                        "cpu_isa": cpu_isa(), "seed": run.seed},
    }


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def render_markdown(report: dict) -> str:
    dense, final, sp = report["dense"], report["final"], report["sparsity"]
    lines = [
        f"# Compression report: {report['model']['arch']} on {report['data']['dataset']}",
        "",
        f"Schedule: `{report['schedule']}`  ",
        f"Final checkpoint: `{report['checkpoint']}`",
        "",
        "| | top-1 | top-5 | loss |",
        "|---|---:|---:|---:|",
        f"| dense | {dense['top1']:.2f}% | {dense['top5']:.2f}% | {dense['loss']:.4f} |",
        f"| final | {final['top1']:.2f}% | {final['top5']:.2f}% | {final['loss']:.4f} |",
        "",
        f"Sparsity: {_pct(sp['total'])} of all {report['model']['params']:,} parameters, "
        f"{_pct(sp['weights'])} of weight tensors (dim ≥ 2), {_pct(sp['targeted'])} of pruned tensors.",
        "",
        "## Per-layer sparsity",
        "",
        "| parameter | shape | params | non-zero | sparsity | target |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, layer in sp["layers"].items():
        if not layer["pruned"] and len(layer["shape"]) < 2:
            continue
        target = _pct(layer["target"]) if "target" in layer else "—"
        shape = "×".join(map(str, layer["shape"]))
        lines.append(f"| `{name}` | {shape} | {layer['numel']:,} | {layer['nnz']:,} | "
                     f"{_pct(layer['sparsity'])} | {target} |")
    groups = [(name, g) for name, p in report["pruners"].items() for g in p.get("groups", [])]
    if groups:
        lines += ["", "## Dependency groups of structured pruners", ""]
        lines += [f"- `{name}`: {g}" for name, g in groups]
    st = report["structure"]
    tot = st["totals"]
    lines += ["", "## Structure (dense → final)", "",
              f"Parameters {tot['params_before']:,} → {tot['params_after']:,}; "
              f"MACs per sample {tot['macs_before']:,} → {tot['macs_after']:,}"
              + (f" ({tot['macs_before'] / max(tot['macs_after'], 1):.2f}× fewer)"
                 if tot['macs_after'] else ""),
              "", "| module | shape before | shape after | params before | params after | "
                  "MACs before | MACs after |",
              "|---|---|---|---:|---:|---:|---:|"]
    for name, layer in st["layers"].items():
        shape = lambda s: "×".join(map(str, s)) or "—"  # noqa: E731
        lines.append(f"| `{name}` | {shape(layer['shape_before'])} | {shape(layer['shape_after'])} | "
                     f"{layer['params_before']:,} | {layer['params_after']:,} | "
                     f"{layer['macs_before']:,} | {layer['macs_after']:,} |")
    lines += ["", "## Epochs", "", "| phase | epoch | lr | loss | top-1 | target sparsity | sparsity |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for e in report["epochs"]:
        s = e.get("sparsity")
        lines.append(f"| {e['phase']} | {e['epoch']} | {e['lr']:.3g} | {e['loss']:.4f} | {e['top1']:.2f}% | "
                     f"{_pct(s['target']) if s else '—'} | {_pct(s['actual']) if s else '—'} |")
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_report(run: CompressionRun, final: dict, final_checkpoint: Path) -> dict:
    report = build_report(run, final, final_checkpoint)
    run.out.mkdir(parents=True, exist_ok=True)
    _write_atomic(run.out / "report.json", json.dumps(report, indent=2) + "\n")
    _write_atomic(run.out / "report.md", render_markdown(report))
    return report
