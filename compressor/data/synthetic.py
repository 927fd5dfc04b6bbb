"""Generated, deterministic, learnable image-classification data for tests and quick runs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import DataError
from .base import SPLITS, Split

__all__ = ["synthetic_split"]


def synthetic_split(
    num_samples: int,
    *,
    num_classes: int = 10,
    channels: int = 1,
    image_size: int = 28,
    seed: int = 0,
    split: str = "train",
    noise: float = 1.0,
    name: str = "synthetic",
) -> Split:
    """A generated, learnable classification split; the same arguments give the same data.

    Each class has a smooth random prototype image (drawn from ``seed``, shared by the
    splits); a sample is its class's prototype plus Gaussian pixel noise of relative
    strength ``noise`` (drawn from ``seed`` and ``split``), scaled to unit variance.
    Labels are balanced and shuffled.
    """
    for key, value, least in (("num_samples", num_samples, 1), ("num_classes", num_classes, 2),
                              ("channels", channels, 1), ("image_size", image_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise DataError(f"synthetic data: {key} must be an integer >= {least}, got {value!r}")
    if split not in SPLITS:
        raise DataError(f"synthetic data: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    prototypes_rng = torch.Generator().manual_seed(seed)
    coarse = max(2, image_size // 7)
    prototypes = torch.randn(num_classes, channels, coarse, coarse, generator=prototypes_rng)
    prototypes = F.interpolate(prototypes, size=(image_size, image_size), mode="bilinear",
                               align_corners=False)
    flat = prototypes.flatten(1)
    prototypes = ((flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-6)
                  ).view_as(prototypes)
    samples_rng = torch.Generator().manual_seed(seed * 1_000_003 + 1 + SPLITS.index(split))
    labels = torch.arange(num_samples) % num_classes
    labels = labels[torch.randperm(num_samples, generator=samples_rng)]
    pixels = torch.randn(num_samples, channels, image_size, image_size, generator=samples_rng)
    images = (prototypes[labels] + noise * pixels) / math.sqrt(1.0 + noise * noise)
    return Split(images=images.contiguous(), labels=labels, name=name)
