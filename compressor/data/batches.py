"""Batches of an in-memory split: shuffled from a generator, optionally augmented."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from ..errors import DataError
from .base import Split, check_count
from .registry import DATASETS

__all__ = ["AUGMENT_PADDING", "iterate_batches", "num_batches"]

#: Padding (pixels, each side) of the random crop done by ``iterate_batches(augment=True)``.
AUGMENT_PADDING = 4


def num_batches(split: Split | int, batch_size: int, limit_batches: int | None = None) -> int:
    """How many batches ``iterate_batches`` yields for a split (or a sample count)."""
    check_count("batch_size", batch_size, optional=False)
    check_count("limit_batches", limit_batches)
    total = -(-(split if isinstance(split, int) else len(split)) // batch_size)
    return total if limit_batches is None else min(total, limit_batches)


def _crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Per image: zero-pad by AUGMENT_PADDING, crop H x W at ``offsets`` (row, col), mirror
    where ``flips``. Zero is the data set's mean colour, as images are normalized."""
    batch, channels, height, width = images.shape
    pad = AUGMENT_PADDING
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(height)  # B x H
    cols = offsets[:, 1:] + torch.arange(width)  # B x W
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    return padded[
        torch.arange(batch)[:, None, None, None],
        torch.arange(channels)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def iterate_batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    augment: bool = False,
    limit_batches: int | None = None,
    start_batch: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)`` batches of ``split`` (the last one may be smaller).

    All randomness (the shuffle permutation and, with ``augment``, every sample's crop
    offset and mirroring) is drawn from ``generator`` when this function is called, so a
    generator seeded per epoch gives the same epoch every time; ``start_batch`` skips the
    first batches of that same epoch (to resume). ``augment``: random crop of the image
    zero-padded by 4 pixels, plus a horizontal flip for data sets where mirroring keeps the
    class (not MNIST or the synthetic sets).
    """
    total = num_batches(split, batch_size, limit_batches)
    if not isinstance(start_batch, int) or start_batch < 0:
        raise DataError(f"start_batch must be a non-negative integer, got {start_batch!r}")
    count = len(split)
    order = torch.randperm(count, generator=generator) if shuffle else None
    if augment:
        spec = DATASETS.get(split.name)
        offsets = torch.randint(0, 2 * AUGMENT_PADDING + 1, (count, 2), generator=generator)
        flips = torch.rand(count, generator=generator) < 0.5
        if spec is not None and not spec.hflip:
            flips.zero_()

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in range(start_batch, total):
            start, stop = index * batch_size, min((index + 1) * batch_size, count)
            if order is None:
                images, labels = split.images[start:stop], split.labels[start:stop]
            else:
                chosen = order[start:stop]
                images, labels = split.images[chosen], split.labels[chosen]
            if augment:
                images = _crop_flip(images, offsets[start:stop], flips[start:stop])
            yield images, labels

    return batches()
