"""Batches: reproducible shuffles, limits, resume, augmentation (compressor/data/batches.py)."""

from __future__ import annotations

import pytest
import torch

from compressor.data import (
    AUGMENT_PADDING,
    Split,
    iterate_batches,
    num_batches,
)
from compressor.errors import DataError

# ----------------------------------------------------------------------------- batches


def small_split(name: str = "cifar10", count: int = 10) -> Split:
    images = torch.arange(count * 3 * 32 * 32, dtype=torch.float32).view(count, 3, 32, 32)
    return Split(images=images, labels=torch.arange(count), name=name)


def collect(split: Split, batch_size: int, seed: int | None, **kwargs):
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return list(iterate_batches(split, batch_size, generator=generator, **kwargs))


@pytest.mark.parametrize("augment", [False, True])
def test_batches_are_reproducible_from_the_generator(augment):
    data = small_split()
    first = collect(data, 4, 123, shuffle=True, augment=augment)
    again = collect(data, 4, 123, shuffle=True, augment=augment)
    other = collect(data, 4, 124, shuffle=True, augment=augment)
    assert [len(y) for _, y in first] == [4, 4, 2]
    for (x1, y1), (x2, y2) in zip(first, again):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert any(not torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first, other))
    labels = torch.cat([y for _, y in first])
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    if not augment:  # images travel with their labels
        for x, y in first:
            assert torch.equal(x, data.images[y])


def test_batches_without_shuffle_limit_and_resume():
    data = small_split()
    batches = collect(data, 3, None, shuffle=False)
    assert [y.tolist() for _, y in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert num_batches(data, 3) == 4 and num_batches(10, 5) == 2 and num_batches(data, 3, 2) == 2
    limited = collect(data, 3, None, shuffle=False, limit_batches=2)
    assert [y.tolist() for _, y in limited] == [[0, 1, 2], [3, 4, 5]]
    full = collect(data, 3, 7, shuffle=True, augment=True)
    resumed = collect(data, 3, 7, shuffle=True, augment=True, start_batch=2)
    assert len(resumed) == 2
    for (x1, y1), (x2, y2) in zip(full[2:], resumed):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    with pytest.raises(DataError, match="batch_size must be a positive integer, got 0"):
        iterate_batches(data, 0, shuffle=False)
    with pytest.raises(DataError, match="limit_batches must be a positive integer"):
        num_batches(data, 2, 0)


def crops_of(image: torch.Tensor, flip: bool) -> list[torch.Tensor]:
    pad = AUGMENT_PADDING
    padded = torch.nn.functional.pad(image, (pad, pad, pad, pad))
    if flip:
        padded = padded.flip(-1)
    size = image.shape[-1]
    return [padded[:, r:r + size, c:c + size] for r in range(2 * pad + 1) for c in range(2 * pad + 1)]


@pytest.mark.parametrize(("name", "may_flip"), [("cifar10", True), ("mnist", False)])
def test_augment_is_a_padded_crop_and_maybe_a_flip(name, may_flip):
    data = small_split(name, count=40)
    flipped = 0
    for x, y in collect(data, 16, 0, shuffle=True, augment=True):
        assert x.shape == (len(y), 3, 32, 32) and x.dtype == torch.float32
        for image, label in zip(x, y):
            original = data.images[label]
            plain = any(torch.equal(image, crop) for crop in crops_of(original, False))
            mirrored = any(torch.equal(image, crop) for crop in crops_of(original, True))
            assert plain or (may_flip and mirrored)
            flipped += mirrored and not plain
    assert (flipped > 5) == may_flip
