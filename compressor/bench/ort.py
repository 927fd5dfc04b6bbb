"""onnxruntime as the dense reference runtime of ``compress bench`` (optional): :func:`onnx_reference`.

``pip install 'compressor[onnx]'`` installs onnxruntime and onnx. The dense model is
exported with ``torch.onnx.export`` (the TorchScript-based exporter, ``dynamo=False``:
the torch.export-based one needs onnxscript) with a dynamic batch dimension and run
in an ``InferenceSession`` on the CPU with ``intra_op_num_threads`` = the thread count
being measured and ``inter_op_num_threads`` = 1 (sequential execution, all graph
optimizations).
"""

from __future__ import annotations

import importlib
import io
import time
import warnings

import torch
from torch import nn

INSTALL_HINT = "pip install 'compressor[onnx]'"
ORT = "onnxruntime"  # the reference variant's name
_INPUT, _OUTPUT = "input", "output"

__all__ = ["INSTALL_HINT", "ORT", "OrtModel", "export_onnx", "max_mismatch", "missing",
           "onnx_reference"]


def missing() -> str | None:
    """None when onnxruntime and onnx can be imported, else one line saying why not."""
    problems = []
    for name in ("onnxruntime", "onnx"):
        try:
            importlib.import_module(name)
        except ImportError:
            problems.append(f"{name} is not installed")
        except Exception as exc:  # a broken install raises anything at import
            problems.append(f"{name} cannot be imported ({type(exc).__name__}: {exc})")
    return "; ".join(problems) or None


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """The ONNX model of ``model`` (eval mode) for inputs shaped like ``example``, with a
    dynamic batch dimension."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter announces its deprecation; tracing may warn too.
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (example,), buf, dynamo=False, input_names=[_INPUT],
                          output_names=[_OUTPUT], do_constant_folding=True,
                          dynamic_axes={_INPUT: {0: "batch"}, _OUTPUT: {0: "batch"}})
    return buf.getvalue()


class OrtModel(nn.Module):
    """An exported model run by onnxruntime, callable like the torch model it came from
    (float32 CPU tensors in and out). One InferenceSession per thread count, made on first use."""

    def __init__(self, onnx_bytes: bytes, threads: int = 1) -> None:
        super().__init__()
        self.onnx_bytes = onnx_bytes
        self.threads = threads
        self._sessions: dict[int, object] = {}

    def set_threads(self, threads: int) -> None:
        """Run on the InferenceSession with ``intra_op_num_threads=threads`` from now on."""
        self.threads = threads

    def session(self, threads: int):
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3  # errors only
            self._sessions[threads] = ort.InferenceSession(
                self.onnx_bytes, options, providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def serialized(self) -> bytes:
        """What the runtime loads: the ONNX model file's bytes."""
        return self.onnx_bytes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session(self.threads).run([_OUTPUT], {_INPUT: array})[0])

    def extra_repr(self) -> str:
        return f"onnx={len(self.onnx_bytes):,} bytes, threads={self.threads}"


@torch.no_grad()
def max_mismatch(ort_model: nn.Module, model: nn.Module, x: torch.Tensor, *, rtol: float = 1e-3,
                 atol: float = 1e-4) -> tuple[float, bool]:
    """The largest absolute difference between the two models' outputs on ``x``, and
    whether every element is within ``atol + rtol * |torch's output|``."""
    expected = model(x)
    actual = ort_model(x)
    if actual.shape != expected.shape:
        return float("inf"), False
    diff = (actual - expected).abs()
    return float(diff.max()) if diff.numel() else 0.0, bool((diff <= atol + rtol * expected.abs()).all())


def onnx_reference(dense: nn.Module, example: torch.Tensor, threads: int, *, enabled: bool = True,
                   log=print) -> tuple[OrtModel | None, dict]:
    """The dense model exported to ONNX and run by onnxruntime, once its outputs match
    torch's; else None. The dict says what happened (``status``, a one-line ``note``)."""
    if not enabled:
        return None, {"status": "skipped", "note": "onnxruntime: skipped (--no-onnx)"}
    why = missing()
    if why is not None:
        return None, {"status": "missing",
                      "note": f"onnxruntime: no reference row ({why}; {INSTALL_HINT})"}
    import onnxruntime  # optional: present, as missing() just found

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
