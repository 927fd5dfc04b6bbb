"""Checkpoints: plain data only, written atomically, read with ``weights_only=True``.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts (model weights,
masks, optimizer and lr-scheduler state, RNG state, the schedule text, progress and
history). Nothing in it is pickled code, and loading refuses any file that contains
some: ``torch.load(weights_only=True)`` rejects every global it was not told about.

Every checkpoint records its :class:`Phase` under ``phase`` (as the plain string): a
run's checkpoints can be resumed, ``compress thin`` and ``compress sparse`` write
inference checkpoints that ``compressor.load`` reads, ``compressor.save`` a model of
the user's own training loop.
"""

from __future__ import annotations

import enum
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError

FORMAT = "compressor-checkpoint"
FORMAT_VERSION = 1


class Phase(str, enum.Enum):
    """Where a checkpoint stands; stored under ``phase`` as its value (a plain string)."""

    DENSE = "dense"  # after an epoch of dense training (resumable)
    COMPRESS = "compress"  # the dense model to compress (dense.pt), then after each epoch
    DONE = "done"  # final.pt of a finished run
    THINNED = "thinned"  # written by `compress thin`, for inference
    SPARSE = "sparse"  # written by `compress sparse`, for inference
    MODEL = "model"  # written by compressor.save: a model of the user's own loop

    def __str__(self) -> str:
        return self.value


def is_sparse_state(state: dict) -> bool:
    """Whether a checkpoint was written by ``compress sparse`` (it holds a ``sparse`` entry)."""
    return "sparse" in state


_PLAIN = (str, int, float, bool, type(None), torch.Tensor, torch.dtype, torch.device)


def check_plain(obj: Any, where: str = "state") -> None:
    """Raise TypeError if ``obj`` holds anything but tensors and plain containers/scalars."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint key {where}[{k!r}] is a {type(k).__name__}")
            check_plain(v, f"{where}[{k!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
    elif isinstance(obj, enum.Enum) or not isinstance(obj, _PLAIN):
        raise TypeError(f"checkpoint entry {where} is a {type(obj).__module__}.{type(obj).__name__}; "
                        "checkpoints hold only tensors and plain data")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically: a temp file in the same directory, fsync,
    then rename, so a kill mid-write leaves the previous file intact."""
    check_plain(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; every failure is a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"checkpoint {str(path)!r} is not a readable torch file "
                              "(torch.save writes a zip archive; this is not one)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln or "GLOBAL" in ln]
        detail = f" ({lines[0]})" if lines else ""
        raise CheckpointError(
            f"checkpoint {str(path)!r} contains pickled objects or code that a weights-only "
            f"load refuses{detail}; compressor checkpoints hold only tensors and plain "
            "data. Refusing to load it.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a readable torch file: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a compressor checkpoint (no "
                              f"'format: {FORMAT}' entry)")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} has format version "
                              f"{state.get('format_version')!r}; this compressor reads {FORMAT_VERSION}")
    return state
