"""``compress --help`` lists the run options (``compress --schedule FILE ...`` is a run)."""

from __future__ import annotations

import pytest

from compressor.cli import main


def test_top_level_help_lists_the_run_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: compress --schedule FILE [run options]")
    assert "{run,check,params,thin,bench,sparse}" in out
    run_part = out[out.index("run options"):]
    for option in ("--schedule", "--out", "--overwrite", "--resume-from", "--data-dir", "--epochs",
                   "--device", "--seed", "--threads", "--max-batches-per-epoch", "--keep-checkpoints",
                   "--tensorboard", "--no-progress"):
        assert option in run_part, option
    assert "train on at most N batches per epoch" in run_part
