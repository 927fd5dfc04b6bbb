"""report.json (machine-readable) and report.md (for people, with the PNG plots of
:mod:`.plots`) for a finished run, or for an interrupted one (``status: interrupted``:
the epochs so far, no final evaluation, the checkpoint to resume from)."""

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
from ..models import build_model, replace_classifier, resolve_arch
from ..nn.scaling import fold_scaling_factors
from ..ops import cpu_isa
from .plots import PLOTS, write_plots

if TYPE_CHECKING:  # annotations only: the run writes its report
    from .run import CompressionRun


def structure_report(run: CompressionRun) -> dict:
    """Per module: shape, params and MACs (per sample) of the dense model and of the
    final one (smaller after thinning), plus totals."""
    info = run.info
    dense = build_model(resolve_arch(run.prepared_arch), num_classes=info.num_classes,
                        in_channels=info.channels, image_size=info.image_size,
                        options=run.schedule.model.options)
    if run.prepared.classifier_replaced:
        replace_classifier(dense, run.prepared.classifier_replaced, info.num_classes)
    example = torch.zeros(1, info.channels, *info.hw)
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


def _weights_entry(run: CompressionRun) -> dict | None:
    loaded = run.prepared.pretrained
    if loaded is None:
        return None
    return {"path": loaded.path, "tensors": loaded.tensors, "classifier_replaced": loaded.classifier,
            "classes_in_file": loaded.classes_in_file, "classes_now": loaded.classes_now}


def build_report(run: CompressionRun, final: dict | None, final_checkpoint: Path | None,
                 status: str = "complete") -> dict:
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
        "status": status,
        "resume_from": None if status == "complete" or run.last_checkpoint is None
        else str(run.last_checkpoint),
        "schedule": run.schedule.path,
        "model": {"arch": run.schedule.model.arch, "params": stats["params"],
                  "nonzero_params": stats["nonzero_params"], "weights": _weights_entry(run)},
        "data": {"dataset": run.schedule.data.dataset, "train_samples": len(run.train_split),
                 "test_samples": len(run.test_split)},
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
        "checkpoint": str(final_checkpoint) if final_checkpoint else None,
        "settings": run.settings,
        "timing": run.timing,
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "threads": torch.get_num_threads(), "device": str(run.device),
                        "cpu_isa": cpu_isa(), "seed": run.seed},
    }


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def _row(name: str, metrics: dict | None) -> str:
    if metrics is None:
        return f"| {name} | — | — | — |"
    return f"| {name} | {metrics['top1']:.2f}% | {metrics['top5']:.2f}% | {metrics['loss']:.4f} |"


def render_markdown(report: dict, plots: list[str] = ()) -> str:
    dense, final, sp = report["dense"], report["final"], report["sparsity"]
    if report["status"] == "complete":
        status = f"Final checkpoint: `{report['checkpoint']}`"
    else:
        resume = (f"continue with `compress --resume-from {report['resume_from']}`"
                  if report["resume_from"] else "no checkpoint was written yet")
        status = (f"**Interrupted: partial report** ({len(report['epochs'])} epochs done; {resume}). "
                  "The sparsity and structure below are the model's at the interruption.")
    lines = [
        f"# Compression report: {report['model']['arch']} on {report['data']['dataset']}",
        "",
        status,
        "",
        f"Schedule: `{report['schedule']}`",
        "",
        "| | top-1 | top-5 | loss |",
        "|---|---:|---:|---:|",
        _row("dense", dense),
        _row("final", final),
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
    weights = report["model"].get("weights")
    if weights:
        lines[6:6] = [f"Pretrained weights: `{weights['path']}` ({weights['tensors']} tensors)"
                      + (f"; classifier `{weights['classifier_replaced']}` replaced: "
                         f"{weights['classes_in_file']} classes in the file, {weights['classes_now']} in "
                         "the data set (freshly initialised)" if weights["classifier_replaced"] else ""),
                      ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{PLOTS[Path(p).name]}]({p})" for p in plots] + [""]
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


def write_report(run: CompressionRun, final: dict | None, final_checkpoint: Path | None,
                 status: str = "complete") -> dict:
    report = build_report(run, final, final_checkpoint, status)
    run.out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(report, run.out)
    report["plots"] = plots
    _write_atomic(run.out / "report.json", json.dumps(report, indent=2) + "\n")
    _write_atomic(run.out / "report.md", render_markdown(report, plots))
    return report
