"""Measuring the variants: latency, parameters, MACs, size and accuracy (:func:`run_bench`).

Every variant is timed after warm-up over many runs per batch size and thread count
(mean, std, p50, p90), with parameters, MACs (dense and effective: only non-zero
weights count), serialized size raw and gzipped, and accuracy when data is at hand.
Any variant that is not faster than dense is flagged, and every variant's speed-up
over the onnxruntime reference is reported when it ran.
"""

from __future__ import annotations

import gzip
import io
import statistics
import time

import torch
from torch import nn

from .. import data as data_mod
from ..engine.thinning import TOTAL, count_macs
from ..errors import CompressorError, DataError
from ..io.spec import example_for
from ..runner.train import evaluate
from ..schedule import ScheduleError, read_schedule
from .ort import ORT, OrtModel, onnx_reference
from .variants import build_variants

__all__ = ["check_positive", "run_bench", "time_model"]


def _test_split(state: dict, data_dir: str | None, limit: int | None):
    """The checkpoint's test data: a built-in set loaded into memory, or the val/ images of
    an image folder (the run's directory and normalisation, read from its schedule)."""
    spec = state["model_spec"]
    if not data_mod.is_image_folder(spec["dataset"]):
        return data_mod.load_split(spec["dataset"], "test", data_dir, limit=limit)
    stored = state.get("schedule") or {}
    schedule, _ = read_schedule(stored.get("path", "schedule"), text=stored.get("text", ""))
    d = schedule.data
    if d is None:
        raise DataError("the checkpoint does not record its image folder; give --data-dir")
    directory = data_dir or (state.get("settings") or {}).get("data_dir") or d.dir
    return data_mod.load_folder_split(directory, "test", image_size=spec["image_size"], mean=d.mean,
                                      std=d.std, workers=d.workers, limit=limit)


def _sizes(model: nn.Module) -> tuple[int, int]:
    if isinstance(model, OrtModel):
        raw = model.serialized()
    else:
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        raw = buf.getvalue()
    return len(raw), len(gzip.compress(raw, compresslevel=6))


def _effective_macs(model: nn.Module, example: torch.Tensor) -> tuple[int, int]:
    counts = count_macs(model, example)
    effective = 0
    for name, c in counts.items():
        if name == TOTAL:
            continue
        w = getattr(model.get_submodule(name), "weight", None)
        if isinstance(w, torch.Tensor) and w.numel() and c["macs"]:
            effective += round(c["macs"] * int(torch.count_nonzero(w)) / w.numel())
    return counts[TOTAL]["macs"], effective


@torch.no_grad()
def time_model(model: nn.Module, x: torch.Tensor, *, warmup: int, runs: int,
               budget_s: float) -> dict[str, float]:
    for _ in range(warmup):
        model(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * (len(times) - 1) + 0.5))]  # noqa: E731
    return {"mean_ms": 1e3 * statistics.fmean(times),
            "std_ms": 1e3 * (statistics.stdev(times) if len(times) > 1 else 0.0),
            "p50_ms": 1e3 * pick(0.5), "p90_ms": 1e3 * pick(0.9), "runs": len(times)}


def run_bench(path: str, *, batch_sizes=(1, 32), threads=(1,), runs: int = 50, warmup: int = 5,
              budget_s: float = 10.0, data_dir: str | None = None, test_samples: int | None = 2000,
              sparse: bool = True, onnx: bool = True, log=print) -> dict:
    variants, state, described_by = build_variants(path, sparse=sparse, log=log)
    spec = state["model_spec"]
    example = example_for(state)
    reference, onnx_info = onnx_reference(variants["dense"], example, threads[0], enabled=onnx, log=log)
    if reference is not None:
        variants = {"dense": variants["dense"], ORT: reference,
                    **{k: v for k, v in variants.items() if k != "dense"}}
        described_by[ORT] = variants["dense"]
    split = None
    try:
        split = _test_split(state, data_dir, test_samples)
    except (DataError, ScheduleError) as exc:
        log(f"bench: no accuracy ({exc})")
    if isinstance(split, data_mod.Split) and split.images.shape[1:] != example.shape[1:]:
        log(f"bench: no accuracy (the {spec['dataset']} test images are "
            f"{'x'.join(map(str, split.images.shape[1:]))}, the model takes "
            f"{'x'.join(map(str, example.shape[1:]))})")
        split = None
    results: dict = {"checkpoint": str(path), "arch": spec["arch"], "variants": {}, ORT: onnx_info}
    before = torch.get_num_threads()
    try:
        for name, model in variants.items():
            source = described_by[name]
            macs, effective = _effective_macs(source, example)
            raw, gz = _sizes(model)
            entry = {"params": sum(p.numel() for p in source.parameters()),
                     "nonzero_params": sum(int(torch.count_nonzero(p)) for p in source.parameters()),
                     "macs": macs, "effective_macs": effective, "size_bytes": raw, "size_gzip_bytes": gz,
                     "latency": {}}
            if split is not None:
                entry["top1"] = evaluate(model, split, batch_size=256, progress=False)["top1"]
            for t in threads:
                torch.set_num_threads(t)
                if isinstance(model, OrtModel):
                    model.set_threads(t)  # intra-op threads = the count measured
                for b in batch_sizes:
                    x = torch.randn(b, *example.shape[1:])
                    entry["latency"][f"b{b}_t{t}"] = time_model(model, x, warmup=warmup, runs=runs,
                                                                 budget_s=budget_s)
            results["variants"][name] = entry
    finally:
        torch.set_num_threads(before)
    dense = results["variants"]["dense"]["latency"]
    for name, entry in results["variants"].items():
        entry["speedup"] = {k: dense[k]["p50_ms"] / v["p50_ms"] for k, v in entry["latency"].items()}
        entry["not_faster_than_dense"] = sorted(k for k, s in entry["speedup"].items()
                                                if name != "dense" and s <= 1.0)
    if ORT in results["variants"]:
        ref = results["variants"][ORT]["latency"]
        for name, entry in results["variants"].items():
            if name != ORT:
                entry["speedup_vs_onnxruntime"] = {k: ref[k]["p50_ms"] / v["p50_ms"]
                                                   for k, v in entry["latency"].items()}
    return results


def check_positive(name: str, values) -> None:
    if any(v < 1 for v in values):
        raise CompressorError(f"bench: {name} must be at least 1, got {list(values)}")
