"""The results of ``compress bench`` as a markdown table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from .ort import ORT

__all__ = ["render_table", "write_json"]


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
