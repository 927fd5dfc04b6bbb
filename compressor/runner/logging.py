"""What a run logs per epoch: ``OUT/epochs.csv`` always, TensorBoard scalars on request.

``epochs.csv`` is rewritten from the run's history after every epoch (so a resumed run's
file is whole): phase, epoch, lr, train loss, top-1/top-5, validation loss, seconds,
batches, parameters, and in the compression phase the target / actual sparsity of the
pruned tensors and the sparsity of all parameters.

TensorBoard (``--tensorboard DIR`` or ``logging.tensorboard``; needs the optional
``tensorboard`` package: ``pip install 'compressor[tensorboard]'``) gets, per epoch,
``train/loss``, ``eval/top1``, ``eval/top5``, ``eval/loss``, ``lr``, ``sparsity/total``,
``sparsity/pruned``, ``sparsity/target`` and ``sparsity/layer/<parameter>``, and
``model/params`` (smaller after thinning); at the end ``structure/params_before|after``
and ``structure/macs_before|after``. The step counts epochs over both phases (dense
epochs first); a resumed run purges the steps it repeats.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from ..errors import CompressorError

__all__ = ["CSV_COLUMNS", "RunLog"]

_MISSING = ("--tensorboard / logging.tensorboard needs the tensorboard package: "
            "pip install 'compressor[tensorboard]'")
CSV_COLUMNS = ("phase", "epoch", "lr", "loss", "top1", "top5", "val_loss", "seconds", "batches",
               "params", "target_sparsity", "sparsity", "total_sparsity")


def _summary_writer(directory: str, purge_step: int | None):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise CompressorError(_MISSING) from None
    return SummaryWriter(log_dir=directory, purge_step=purge_step)


class RunLog:
    """``epochs.csv`` in ``out``, and a TensorBoard writer in ``tensorboard`` (opened on
    the first epoch; a missing package is an error before any training)."""

    def __init__(self, out: Path, tensorboard: str | None, *, dense_epochs: int) -> None:
        self.out = out
        self.dense_epochs = dense_epochs
        self.tensorboard = tensorboard
        self._writer = None
        self._step = 0
        if tensorboard:
            try:
                import tensorboard  # noqa: F401  (checked now, before any training)
            except ImportError:
                raise CompressorError(_MISSING) from None

    def _step_of(self, record: dict) -> int:
        return record["epoch"] + (self.dense_epochs if record["phase"] != "dense" else 0)

    def epoch(self, record: dict, history: list[dict]) -> None:
        self._write_csv(history)
        if not self.tensorboard:
            return
        step = self._step_of(record)
        if self._writer is None:
            self._writer = _summary_writer(self.tensorboard, purge_step=step)
        w = self._writer
        w.add_scalar("train/loss", record["loss"], step)
        w.add_scalar("eval/top1", record["top1"], step)
        w.add_scalar("eval/top5", record["top5"], step)
        w.add_scalar("eval/loss", record["val_loss"], step)
        w.add_scalar("lr", record["lr"], step)
        w.add_scalar("model/params", record["params"], step)
        sparsity = record.get("sparsity")
        if sparsity:
            w.add_scalar("sparsity/total", sparsity["total"], step)
            w.add_scalar("sparsity/pruned", sparsity["actual"], step)
            w.add_scalar("sparsity/target", sparsity["target"], step)
            for name, value in sparsity.get("layers", {}).items():
                w.add_scalar(f"sparsity/layer/{name}", value, step)
        w.flush()
        self._step = step

    def structure(self, totals: dict) -> None:
        """Parameters and MACs before / after (thinning) of the finished run."""
        if not self.tensorboard:
            return
        if self._writer is None:
            self._writer = _summary_writer(self.tensorboard, purge_step=None)
        for key in ("params_before", "params_after", "macs_before", "macs_after"):
            self._writer.add_scalar(f"structure/{key}", totals[key], self._step)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _write_csv(self, history: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in history:
            s = e.get("sparsity") or {}
            writer.writerow([e["phase"], e["epoch"], e["lr"], e["loss"], e["top1"], e["top5"],
                             e["val_loss"], round(e["seconds"], 3), e.get("batches", ""),
                             e.get("params", ""), s.get("target", ""), s.get("actual", ""),
                             s.get("total", "")])
        self.out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".epochs.csv.", dir=self.out)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, self.out / "epochs.csv")
