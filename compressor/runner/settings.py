"""A run's effective settings: what the command line and the schedule decided together.

They are stored in every checkpoint under ``settings`` and restored on ``--resume-from``,
so a resumed run trains exactly what the interrupted one would have (the same epochs,
batch cap, data, seed, thread count and device). An option given again on resume must
agree with the checkpoint; one that contradicts it is an error naming both values.
The schedule's text is stored too; ``--schedule`` on resume must name the same text.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import CheckpointError, CompressorError

__all__ = ["FLAGS", "check_device", "resumed_settings"]

#: setting -> the command-line option that sets it
FLAGS = {"epochs": "--epochs", "max_batches_per_epoch": "--max-batches-per-epoch",
         "data_dir": "--data-dir", "seed": "--seed", "threads": "--threads", "device": "--device"}


def normalize_data_dir(directory: str | None) -> str | None:
    """A data directory as stored: absolute, so a resume from elsewhere finds it."""
    return str(Path(directory).expanduser().resolve()) if directory else None


def check_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``, usable on this machine; else ``CompressorError``."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise CompressorError(f"--device must be cpu or cuda (cuda:N), got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CompressorError(f"--device {name}: no CUDA device is available here (torch "
                                  f"{torch.__version__}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CompressorError(f"--device {name}: this machine has {torch.cuda.device_count()} "
                                  "CUDA device(s)")
    return device


def _shown(key: str, value: object) -> str:
    if value is None:
        return {"data_dir": "none (the data set's default place)",
                "max_batches_per_epoch": "none (whole epochs)"}.get(key, "none")
    return str(value)


def resumed_settings(stored: dict | None, given: dict[str, object], source: str) -> dict:
    """The checkpoint's settings, after checking that every option in ``given`` (those
    set on the command line, by setting name) agrees with them."""
    if not isinstance(stored, dict) or set(stored) < set(FLAGS):
        raise CheckpointError(f"{source} does not record the run's settings (written by an older "
                              "compressor); it cannot be resumed exactly. Start the run again")
    conflicts = []
    for key, value in given.items():
        if value is None:
            continue
        want = stored[key]
        if key == "data_dir":
            value = normalize_data_dir(str(value))
        if key == "device":
            value = str(torch.device(str(value)))
        if value != want:
            conflicts.append(f"{FLAGS[key]} {given[key]} contradicts the checkpoint's "
                             f"{FLAGS[key]} {_shown(key, want)}")
    if conflicts:
        raise CompressorError(f"resuming {source}: " + "; ".join(conflicts) + ". A resumed run keeps "
                              "its settings: resume without these options (they are restored from "
                              "the checkpoint), or start a new run with --out elsewhere")
    return dict(stored)
