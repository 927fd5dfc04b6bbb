"""Checkpoints are atomic, plain data, and refuse pickled code."""

from __future__ import annotations

import os

import pytest
import torch

from compressor.errors import CheckpointError
from compressor.io.checkpoint import load_checkpoint, save_checkpoint


class Payload:  # a class instance would need pickled code to load
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_round_trip_with_weights_only(tmp_path):
    state = {"model": {"w": torch.randn(3, 4)}, "epoch": 3, "history": [{"top1": 9.5}],
             "rng": torch.get_rng_state()}
    path = save_checkpoint(tmp_path / "c.pt", state)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "compressor-checkpoint"
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["epoch"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp files left


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "compressor-checkpoint", "format_version": 1, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="contains pickled objects or code"):
        load_checkpoint(path)


def test_objects_are_never_written(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"epoch": 1})
    with pytest.raises(TypeError, match=r"state\['bad'\]\[0\] is a .*Payload"):
        save_checkpoint(path, {"epoch": 2, "bad": [Payload()]})
    assert load_checkpoint(path)["epoch"] == 1


def test_interrupted_write_keeps_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.pt", {"epoch": 1})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable torch file"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"w": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="not a compressor checkpoint"):
        load_checkpoint(other)
