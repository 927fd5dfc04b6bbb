"""One run per output directory.

A run directory holds ``run.json`` (the run's id, schedule and start time) next to its
checkpoints, reports, ``epochs.csv`` and plots. A new run, or a resumed one, refuses a
directory that holds another run's results, unless ``--overwrite`` is given: then the
other run's files (only those, listed in the log) are removed first. A run resumes
into its own directory (the same id) without a question. Nothing of another run is
ever deleted silently. :func:`check_run_dir` decides before anything is read (and
writes nothing); :func:`claim_run_dir` acts on it once the data is loaded, so a run
that fails on its data leaves no directory behind. A ``run.json`` alone (a run that
stopped before its first result) is taken over, and the log says so.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import CompressorError

__all__ = ["RUN_ENTRIES", "RUN_FILE", "check_run_dir", "claim_run_dir"]

RUN_FILE = "run.json"
#: Everything a run writes into its directory.
RUN_ENTRIES = (RUN_FILE, "checkpoints", "report.json", "report.md", "epochs.csv", "plots")


def _read_run(out: Path) -> dict | None:
    try:
        data = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(out: Path, entries: list[str]) -> str:
    other = _read_run(out)
    if other is None:
        return f"another run's files ({', '.join(entries)})"
    return (f"another run (schedule {other.get('schedule')!r}, started {other.get('started')}, "
            f"run id {other.get('run_id')})")


def check_run_dir(out: Path, run_id: str, *, overwrite: bool, resume_from: str | None) -> list[str]:
    """What must be removed from ``out`` for this run (nothing when it is empty or its
    own); ``CompressorError`` if it holds another run's results and not ``overwrite``."""
    entries = [name for name in RUN_ENTRIES if (out / name).exists()]
    mine = _read_run(out)
    if mine is not None and mine.get("run_id") == run_id:
        return []  # resuming into its own directory
    own_legacy = (mine is None and RUN_FILE not in entries and resume_from is not None
                  and Path(resume_from).resolve().parent == (out / "checkpoints").resolve())
    results = [name for name in entries if name != RUN_FILE]
    if results and not own_legacy and not overwrite:
        raise CompressorError(f"{out} holds {_describe(out, results)}; choose another --out, or "
                              "pass --overwrite to replace it")
    return [] if own_legacy else entries


def claim_run_dir(out: Path, run_id: str, schedule: str, remove: list[str],
                  log: Callable[[str], None]) -> None:
    """Remove ``remove`` (from :func:`check_run_dir`) and write this run's ``run.json``."""
    if remove:
        log(f"replacing the run in {out}: {_describe(out, remove)}; removing " + ", ".join(remove))
    for name in remove:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    if (out / RUN_FILE).exists() and (_read_run(out) or {}).get("run_id") == run_id:
        return
    out.mkdir(parents=True, exist_ok=True)
    record = {"run_id": run_id, "schedule": schedule,
              "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    fd, tmp = tempfile.mkstemp(prefix=f".{RUN_FILE}.", dir=out)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, out / RUN_FILE)
