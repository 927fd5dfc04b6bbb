"""``--out`` holds one run: another run is refused (``--overwrite`` replaces it), nothing of
another run is deleted silently, and a run resumes into its own directory."""

from __future__ import annotations

import torch

from compressor.io.checkpoint import load_checkpoint

from ..helpers import VALID_SCHEDULE, run_cli

QUICK = VALID_SCHEDULE.replace("dense_epochs: 1", "dense_epochs: 1\n  max_batches_per_epoch: 2") \
    .replace("epochs: 4", "epochs: 2").replace("ending_epoch: 3", "ending_epoch: 2")


def _snapshot(out):
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_second_run_into_a_directory_of_another_run_is_refused(tmp_path, capsys):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(QUICK)
    second.write_text(QUICK.replace("final_sparsity: 0.8", "final_sparsity: 0.6"))
    out = tmp_path / "out"
    assert run_cli("--schedule", str(first), "--out", str(out)) == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert run_cli("--schedule", str(second), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and "another run" in err, err
    assert _snapshot(out) == before, "the first run's files changed"
    # the same schedule again is a new run too: refused as well
    assert run_cli("--schedule", str(first), "--out", str(out)) == 2
    assert _snapshot(out) == before


def test_overwrite_replaces_the_other_run(tmp_path, capsys):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(QUICK)
    second.write_text(QUICK.replace("final_sparsity: 0.8", "final_sparsity: 0.6"))
    out = tmp_path / "out"
    assert run_cli("--schedule", str(first), "--out", str(out), "--keep-checkpoints", "0") == 0
    keep = out / "notes.txt"  # not a file of a run: left alone
    keep.write_text("mine")
    assert run_cli("--schedule", str(second), "--out", str(out), "--overwrite") == 0
    assert "replacing the run" in capsys.readouterr().out
    final = load_checkpoint(out / "checkpoints" / "final.pt")
    assert final["schedule"]["path"] == str(second)
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    # --keep-checkpoints 2 of the second run: the first run's epoch_000 is gone with it
    assert names == ["dense.pt", "dense_epoch_000.pt", "epoch_000.pt", "epoch_001.pt", "final.pt"]
    assert keep.read_text() == "mine"


def test_a_directory_of_other_files_is_refused(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    path.write_text(QUICK)
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "epoch_000.pt").write_bytes(b"someone else's")
    assert run_cli("--schedule", str(path), "--out", str(out)) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "checkpoints" / "epoch_000.pt").read_bytes() == b"someone else's"


def test_resume_into_its_own_directory_and_into_a_fresh_one(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(QUICK)
    out = tmp_path / "out"
    assert run_cli("--schedule", str(path), "--out", str(out), "--keep-checkpoints", "0") == 0
    reference = load_checkpoint(out / "checkpoints" / "final.pt")
    assert run_cli("--resume-from", str(out / "checkpoints" / "epoch_000.pt")) == 0
    assert run_cli("--resume-from", str(out / "checkpoints" / "dense.pt"),
                   "--out", str(tmp_path / "copy")) == 0
    for where in (out, tmp_path / "copy"):
        final = load_checkpoint(where / "checkpoints" / "final.pt")
        assert all(torch.equal(t, final["model"][n]) for n, t in reference["model"].items())


def test_resume_into_the_directory_of_another_run_is_refused(tmp_path, capsys):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(QUICK)
    b.write_text(QUICK.replace("final_sparsity: 0.8", "final_sparsity: 0.6"))
    assert run_cli("--schedule", str(a), "--out", str(tmp_path / "ra")) == 0
    assert run_cli("--schedule", str(b), "--out", str(tmp_path / "rb")) == 0
    before = _snapshot(tmp_path / "rb")
    capsys.readouterr()
    assert run_cli("--resume-from", str(tmp_path / "ra" / "checkpoints" / "dense.pt"),
                   "--out", str(tmp_path / "rb")) == 2
    assert "another run" in capsys.readouterr().err
    assert _snapshot(tmp_path / "rb") == before
