"""``compress bench``: dense vs masked vs thinned vs sparse-kernel variants of a checkpoint.

Every variant is timed after warm-up over many runs per batch size and thread count
(mean, std, p50, p90), with parameters, MACs (dense and effective: only non-zero
weights count), serialized size raw and gzipped, and accuracy when data is at hand.
Any variant that is not faster than dense is flagged. When onnxruntime is installed
the dense model exported to ONNX joins as the reference runtime (``onnxruntime``),
its outputs checked against torch's first; every variant's speed-up over it is
reported too.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from .. import data as data_mod
from ..io.checkpoint import load_checkpoint
from ..errors import CompressorError, DataError
from ..io.spec import (apply_stored_masks, build_from_spec, example_for, model_from_state,
                      thin_zeroed)
from ..nn.scaling import fold_scaling_factors
from .ort import INSTALL_HINT, OrtModel
from ..engine.thinning import TOTAL, count_macs
from ..runner.train import evaluate


ORT = "onnxruntime"  # the reference variant's name


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
    return {"mean_ms": 1e3 * statistics.fmean(times), "std_ms": 1e3 * (statistics.stdev(times) if len(times) > 1 else 0.0),
            "p50_ms": 1e3 * pick(0.5), "p90_ms": 1e3 * pick(0.9), "runs": len(times)}


def build_variants(path: str, *, sparse: bool = True, log=print
                   ) -> tuple[dict[str, nn.Module], dict, dict[str, nn.Module]]:
    """The variants, the checkpoint, and for each variant the model whose weights
    describe it (a sparse-kernel model holds packed buffers: its source model counts)."""
    state = load_checkpoint(path)
    final = model_from_state(state, str(path)).eval()  # checks model_spec first
    spec = state["model_spec"]
    example = example_for(state)
    variants: dict[str, nn.Module] = {}
    dense_ckpt = Path(path).parent / "dense.pt"
    if dense_ckpt.is_file() and dense_ckpt.resolve() != Path(path).resolve():
        dense = model_from_state(load_checkpoint(dense_ckpt), str(dense_ckpt)).eval()
        log(f"bench: dense weights from {dense_ckpt}")
    else:  # random weights: the timing is the same
        dense = fold_scaling_factors(build_from_spec(spec)).eval()
    variants["dense"] = dense
    if "sparse" in state:  # written by `compress sparse`: the sparse model is the checkpoint
        from ..io.sparse import densify

        unpacked = densify(final)  # the same weights in dense layers
        variants["thinned" if state.get("thinning") else "masked"] = unpacked
        variants["sparse"] = final
        log("bench: a sparse checkpoint; its layers unpacked are the "
            f"{'thinned' if state.get('thinning') else 'masked'} variant")
        return variants, state, {**variants, "sparse": unpacked}
    masks = apply_stored_masks(final, state, str(path))  # a run stores masked weights; be sure
    if state.get("thinning"):
        variants["thinned"] = final
    else:
        variants["masked"] = final
        thinned = copy.deepcopy(final)
        if thin_zeroed(thinned, example, masks):
            variants["thinned"] = thinned.eval()
    if sparse:
        from ..sparse import convert

        source = variants.get("thinned", final)
        t0 = time.perf_counter()
        report: list = []
        variants["sparse"] = convert(source, example_inputs=(example,), report=report).eval()
        folded = sum(1 for r in report if r.batchnorm)
        log(f"bench: sparse conversion took {time.perf_counter() - t0:.1f} s"
            + (f"; {folded} BatchNorms folded into the sparse convs" if folded else ""))
        return variants, state, {**variants, "sparse": source}
    return variants, state, dict(variants)


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
        split = data_mod.load_split(spec["dataset"], "test", data_dir, limit=test_samples)
    except DataError as exc:
        log(f"bench: no accuracy ({exc})")
    if split is not None and split.images.shape[1:] != example.shape[1:]:
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


def onnx_reference(dense: nn.Module, example: torch.Tensor, threads: int, *, enabled: bool = True,
                   log=print) -> tuple[OrtModel | None, dict]:
    """The dense model exported to ONNX and run by onnxruntime, once its outputs match
    torch's; else None. The dict says what happened (``status``, a one-line ``note``)."""
    if not enabled:
        return None, {"status": "skipped", "note": "onnxruntime: skipped (--no-onnx)"}
    from .ort import missing

    why = missing()
    if why is not None:
        return None, {"status": "missing",
                      "note": f"onnxruntime: no reference row ({why}; {INSTALL_HINT})"}
    import onnxruntime

    from .ort import export_onnx, max_mismatch

    t0 = time.perf_counter()
    try:
        model = OrtModel(export_onnx(dense, example), threads)
        x = torch.randn(3, *example.shape[1:], generator=torch.Generator().manual_seed(0))
        diff, ok = max_mismatch(model, dense, x)
    except Exception as exc:  # an operator the exporter or runtime does not support, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return None, {"status": "failed", "note": f"onnxruntime: no reference row (export or "
                      f"session failed: {type(exc).__name__}: {first[:200]})"}
    info = {"version": onnxruntime.__version__, "max_abs_diff": diff,
            "onnx_bytes": len(model.serialized())}
    if not ok:
        return None, {**info, "status": "mismatch",
                      "note": f"onnxruntime: no reference row (its outputs differ from torch's dense "
                              f"model: max |diff| {diff:.3g})"}
    log(f"bench: exported the dense model to ONNX for onnxruntime in {time.perf_counter() - t0:.1f} s")
    return model, {**info, "status": "ok",
                   "note": f"onnxruntime {onnxruntime.__version__}: the dense model exported to ONNX, "
                           "intra-op threads = each thread count, inter-op 1; outputs match torch's "
                           f"(max |diff| {diff:.2g}); `ORT` = speed-up over it"}


def render_table(results: dict) -> str:
    keys = list(results["variants"]["dense"]["latency"])
    has_ort = ORT in results["variants"]
    head = ["variant", "top-1", "params (nnz)", "MACs (effective)", "size / gzip"] + \
           [f"{k} p50 ms (±std) vs dense{' · vs ORT' if has_ort else ''}" for k in keys] + ["flag"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in results["variants"].items():
        vs_ort = e.get("speedup_vs_onnxruntime", {})
        lat = [f"{e['latency'][k]['p50_ms']:.2f} (±{e['latency'][k]['std_ms']:.2f}) {e['speedup'][k]:.2f}×"
               + (f" · {vs_ort[k]:.2f}× ORT" if k in vs_ort else "") for k in keys]
        flag = "NOT FASTER: " + ", ".join(e["not_faster_than_dense"]) if e["not_faster_than_dense"] else ""
        top1 = f"{e['top1']:.2f}%" if "top1" in e else "—"
        lines.append(f"| {name} | {top1} | {e['params']:,} ({e['nonzero_params']:,}) | "
                     f"{e['macs']:,} ({e['effective_macs']:,}) | "
                     f"{e['size_bytes'] / 1e6:.2f} / {e['size_gzip_bytes'] / 1e6:.2f} MB | "
                     + " | ".join(lat) + f" | {flag} |")
    if results.get(ORT, {}).get("note"):
        lines.append(results[ORT]["note"])
    return "\n".join(lines)


def write_json(results: dict, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=2) + "\n")


def check_positive(name: str, values) -> None:
    if any(v < 1 for v in values):
        raise CompressorError(f"bench: {name} must be at least 1, got {list(values)}")
