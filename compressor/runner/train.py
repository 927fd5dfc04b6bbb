"""Training and evaluation loops, with the compression scheduler's hooks.

Both take a split held in memory (:class:`compressor.data.Split`) or one streamed from
disk by a ``DataLoader`` (:class:`compressor.data.FolderSplit`); the epoch's order comes
from ``generator`` either way. The loss is cross-entropy of the logits against the
labels (classification); a user who needs another loss writes their own loop around
the compression scheduler (``compressor.file_config``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data import FolderSplit, Split, iterate_batches, num_batches
from ..engine.scheduler import CompressionScheduler
from ..errors import TrainingError


def _batches(split: Split | FolderSplit, batch_size: int, *, shuffle: bool,
             generator: torch.Generator | None = None, augment: bool = False,
             limit_batches: int | None = None) -> tuple[Iterator, int]:
    """The batches of either kind of split, and how many there are. A FolderSplit's
    augmentation is part of its transform (chosen when it was loaded)."""
    if isinstance(split, FolderSplit):
        return (split.batches(batch_size, shuffle=shuffle, generator=generator, limit_batches=limit_batches),
                split.num_batches(batch_size, limit_batches))
    return (iterate_batches(split, batch_size, shuffle=shuffle, generator=generator, augment=augment,
                            limit_batches=limit_batches), num_batches(split, batch_size, limit_batches))


def train_epoch(model: nn.Module, split: Split | FolderSplit, optimizer: torch.optim.Optimizer, *,
                epoch: int, batch_size: int, generator: torch.Generator, augment: bool = False,
                limit_batches: int | None = None, scheduler: CompressionScheduler | None = None,
                device: torch.device | str = "cpu", desc: str = "train",
                progress: bool | None = None) -> float:
    """One pass over ``split``; returns the mean data loss (without penalties)."""
    model.train()
    total, seen = 0.0, 0
    batches, n = _batches(split, batch_size, shuffle=True, generator=generator, augment=augment,
                          limit_batches=limit_batches)
    bar = tqdm(batches, total=n, desc=desc, leave=False, disable=_disabled(progress),
               dynamic_ncols=True)
    for i, (images, labels) in enumerate(bar):
        images, labels = images.to(device), labels.to(device)
        if scheduler:
            scheduler.on_minibatch_begin(epoch, i, n)
        loss = F.cross_entropy(model(images), labels)
        objective = scheduler.before_backward_pass(epoch, i, n, loss) if scheduler else loss
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        if scheduler:
            scheduler.on_minibatch_end(epoch, i, n)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingError(
                f"training loss became {value} in {desc}; lower the learning rate "
                "(training.optimizer.lr) or check the data")
        total += value * labels.numel()
        seen += labels.numel()
        bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
    return total / max(seen, 1)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split | FolderSplit, *, batch_size: int = 1000,
             device: torch.device | str = "cpu", desc: str = "eval",
             progress: bool | None = None) -> dict[str, float]:
    """Top-1 and top-5 accuracy (percent) and mean loss on ``split``."""
    model.eval()
    correct1 = correct5 = 0
    loss_sum, seen = 0.0, 0
    batches, total = _batches(split, batch_size, shuffle=False)
    for images, labels in tqdm(batches, total=total, desc=desc,
                               leave=False, disable=_disabled(progress), dynamic_ncols=True):
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        hits = top.eq(labels[:, None])
        correct1 += int(hits[:, 0].sum())
        correct5 += int(hits.any(dim=1).sum())
        seen += labels.numel()
    if seen == 0:
        return {"top1": 0.0, "top5": 0.0, "loss": float("nan"), "samples": 0}
    return {"top1": 100.0 * correct1 / seen, "top5": 100.0 * correct5 / seen,
            "loss": loss_sum / seen, "samples": seen}


def _disabled(progress: bool | None) -> bool | None:
    # None lets tqdm decide: bars on a terminal, none in logs and CI.
    return None if progress is None else not progress
