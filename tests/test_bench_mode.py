"""`compress bench` on a finished run: every variant, the table, the JSON and the flags."""

from __future__ import annotations

import json

from compressor.cli import main

from .test_run import finished_run  # noqa: F401  (module-scoped run fixture)


def test_bench_reports_every_variant(finished_run, tmp_path, capsys):  # noqa: F811
    _, out = finished_run
    path = tmp_path / "bench.json"
    assert main(["bench", str(out / "checkpoints" / "final.pt"), "--batch-sizes", "1", "4",
                 "--runs", "3", "--warmup", "1", "--budget", "1", "--json", str(path)]) == 0
    table = capsys.readouterr().out
    results = json.loads(path.read_text())
    assert set(results["variants"]) == {"dense", "masked", "sparse"}  # nothing structured to thin
    for name, v in results["variants"].items():
        for key in ("b1_t1", "b4_t1"):
            lat = v["latency"][key]
            assert lat["p50_ms"] > 0 and lat["p90_ms"] >= lat["p50_ms"] and lat["runs"] >= 3
        assert v["size_gzip_bytes"] < v["size_bytes"] or name == "dense"
        assert "top1" in v
        assert (v["not_faster_than_dense"] != []) == any(s <= 1.0 for s in v["speedup"].values()) or name == "dense"
    masked = results["variants"]["masked"]
    assert masked["nonzero_params"] < masked["params"] and masked["effective_macs"] < masked["macs"]
    assert results["variants"]["sparse"]["params"] == masked["params"]
    assert "| masked |" in table and "| sparse |" in table


def test_bench_bad_input(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "missing.pt")]) == 2
    assert "not found" in capsys.readouterr().err


def test_bench_refuses_checkpoint_without_model_spec(tmp_path, capsys):
    from compressor.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "bare.pt", {"model": {}})
    assert main(["bench", str(path)]) == 2
    assert "no model_spec entry" in capsys.readouterr().err
