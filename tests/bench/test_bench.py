"""`compress bench` on a finished run: every variant, the table, the JSON and the flags."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from compressor import bench
from compressor.bench.ort import missing
from compressor.cli import main

from ..helpers import masked_checkpoint, resnet_checkpoint

ORT_MISSING = missing()
QUICK = ["--batch-sizes", "1", "--runs", "2", "--warmup", "1", "--budget", "1"]


@pytest.mark.slow
def test_bench_reports_every_variant(finished_run, tmp_path, capsys):
    _, out = finished_run
    path = tmp_path / "bench.json"
    assert main(["bench", str(out / "checkpoints" / "final.pt"), "--batch-sizes", "1", "4",
                 "--runs", "3", "--warmup", "1", "--budget", "1", "--json", str(path)]) == 0
    table = capsys.readouterr().out
    results = json.loads(path.read_text())
    with_ort = {"onnxruntime"} if ORT_MISSING is None else set()
    assert set(results["variants"]) == {"dense", "masked", "sparse"} | with_ort  # nothing to thin
    for name, v in results["variants"].items():
        for key in ("b1_t1", "b4_t1"):
            lat = v["latency"][key]
            assert lat["p50_ms"] > 0 and lat["p90_ms"] >= lat["p50_ms"] and lat["runs"] >= 3
        assert v["size_gzip_bytes"] < v["size_bytes"] or name == "dense"
        assert "top1" in v
        assert ((v["not_faster_than_dense"] != []) == any(s <= 1.0 for s in v["speedup"].values())
                or name == "dense")
    masked = results["variants"]["masked"]
    assert masked["nonzero_params"] < masked["params"] and masked["effective_macs"] < masked["macs"]
    assert results["variants"]["sparse"]["params"] == masked["params"]
    assert "| masked |" in table and "| sparse |" in table


def test_bench_bad_input(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err


def test_bench_refuses_checkpoint_without_model_spec(tmp_path, capsys):
    from compressor.io.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "bare.pt", {"model": {}})
    assert main(["bench", str(path)]) == 2
    assert "no model_spec entry" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(ORT_MISSING is not None, reason=f"onnxruntime reference: {ORT_MISSING}")
def test_onnxruntime_reference_row(finished_run, tmp_path, capsys):
    _, out = finished_run
    path = tmp_path / "bench.json"
    assert main(["bench", str(out / "checkpoints" / "final.pt"), *QUICK, "--threads", "1", "2",
                 "--no-sparse", "--json", str(path)]) == 0
    table = capsys.readouterr().out
    results = json.loads(path.read_text())
    assert list(results["variants"])[:2] == ["dense", "onnxruntime"]
    info = results["onnxruntime"]
    assert info["status"] == "ok" and info["max_abs_diff"] < 1e-3
    ort = results["variants"]["onnxruntime"]
    dense = results["variants"]["dense"]
    assert set(ort["latency"]) == {"b1_t1", "b1_t2"}
    assert ort["top1"] == pytest.approx(dense["top1"], abs=1.0)  # same model, another runtime
    assert ort["params"] == dense["params"] and ort["size_bytes"] > 0
    assert "speedup_vs_onnxruntime" not in ort
    for name in ("dense", "masked"):
        ratios = results["variants"][name]["speedup_vs_onnxruntime"]
        assert set(ratios) == {"b1_t1", "b1_t2"} and all(r > 0 for r in ratios.values())
    assert "| onnxruntime |" in table and "× ORT" in table and "outputs match torch's" in table


@pytest.mark.skipif(ORT_MISSING is not None, reason=f"onnxruntime reference: {ORT_MISSING}")
def test_onnxruntime_outputs_are_checked(monkeypatch):
    from compressor.bench import ort
    from compressor.models import build_model

    dense = build_model("mnist_net", num_classes=10, in_channels=1, image_size=28).eval()
    example = torch.zeros(1, 1, 28, 28)
    model, info = bench.onnx_reference(dense, example, 1, log=lambda _: None)
    x = torch.randn(5, 1, 28, 28)  # another batch size than the export's
    with torch.no_grad():
        assert torch.allclose(model(x), dense(x), rtol=1e-3, atol=1e-4)
    assert info["status"] == "ok"
    monkeypatch.setattr(ort, "max_mismatch", lambda *a, **k: (0.5, False))
    model, info = bench.onnx_reference(dense, example, 1, log=lambda _: None)
    assert model is None and info["status"] == "mismatch" and "0.5" in info["note"]


@pytest.mark.slow
def test_missing_onnxruntime_is_one_line(finished_run, tmp_path, capsys, monkeypatch):
    _, out = finished_run
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    path = tmp_path / "bench.json"
    assert main(["bench", str(out / "checkpoints" / "final.pt"), *QUICK, "--no-sparse",
                 "--json", str(path)]) == 0
    table = capsys.readouterr().out
    results = json.loads(path.read_text())
    assert "onnxruntime" not in results["variants"] and results["onnxruntime"]["status"] == "missing"
    notes = [line for line in table.splitlines() if line.startswith("onnxruntime:")]
    assert notes == ["onnxruntime: no reference row (onnxruntime is not installed; "
                     "pip install 'compressor[onnx]')"]
    assert main(["bench", str(out / "checkpoints" / "final.pt"), *QUICK, "--no-sparse", "--no-onnx"]) == 0
    assert "onnxruntime: skipped (--no-onnx)" in capsys.readouterr().out


def test_bench_of_a_sparse_checkpoint(tmp_path, capsys):
    src = masked_checkpoint(tmp_path / "masked.pt")
    assert main(["sparse", str(src), "--out", str(tmp_path / "s.pt"), "--no-measure"]) == 0
    path = tmp_path / "bench.json"
    assert main(["bench", str(tmp_path / "s.pt"), *QUICK, "--json", str(path)]) == 0
    results = json.loads(path.read_text())
    assert {"dense", "masked", "sparse"} <= set(results["variants"])
    masked, sparse = results["variants"]["masked"], results["variants"]["sparse"]
    assert sparse["nonzero_params"] == masked["nonzero_params"] < masked["params"]
    assert sparse["size_bytes"] < masked["size_bytes"]
    assert "| sparse |" in capsys.readouterr().out


def test_bench_sparse_variant_folds_batchnorms(tmp_path, capsys):
    src, _ = resnet_checkpoint(tmp_path / "resnet.pt")
    assert main(["bench", str(src), *QUICK, "--no-onnx"]) == 0
    out = capsys.readouterr().out
    assert "20 BatchNorms folded into the sparse convs" in out and "| sparse |" in out
    # the spec says `synthetic` (1x28x28) for a 3x32x32 model: no accuracy, no traceback
    assert "no accuracy (the synthetic test images are 1x28x28, the model takes 3x32x32)" in out
