"""What a data set is: its shape (:class:`DatasetInfo`), how to read it
(:class:`DatasetSpec`), and a split loaded into memory (:class:`Split`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError

__all__ = ["SPLITS", "DatasetInfo", "DatasetSpec", "Reader", "Split", "check_count", "check_labels"]

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    channels: int
    image_size: int | tuple[int, int]  # square side, or (height, width)
    num_classes: int

    @property
    def hw(self) -> tuple[int, int]:
        """``(height, width)`` of the images."""
        size = self.image_size
        return (size[0], size[1]) if isinstance(size, tuple) else (size, size)


@dataclass
class Split:
    """A whole split in memory: ``images`` float32 N x C x H x W, normalized; ``labels`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    #: The ``DATASETS`` name it came from (decides e.g. whether augmentation flips).
    name: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class DatasetSpec:
    info: DatasetInfo
    title: str  # human name for messages
    mean: tuple[float, ...]  # per channel, of pixels scaled to [0, 1]
    std: tuple[float, ...]
    hflip: bool  # whether augmentation may mirror images
    read: Reader | None  # None: generated (synthetic)
    how_to_get: str = ""  # appended to "missing data" errors
    default_dir: str | None = None
    subdir: str = ""  # torchvision's folder name (IDX) / the archive's folder (CIFAR)
    files: dict[str, tuple[str, ...]] | None = None  # per split: file names (IDX: images, labels)
    synthetic_sizes: dict[str, int] | None = None  # per split: default sample count


# (spec, split, directory, limit) -> uint8 images N x C x H x W and integer labels N
Reader = Callable[[DatasetSpec, str, Path, int | None], tuple[np.ndarray, np.ndarray]]


def check_labels(labels: np.ndarray, spec: DatasetSpec, path: Path) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= spec.info.num_classes):
        bad = labels.max() if labels.max() >= spec.info.num_classes else labels.min()
        raise DataError(
            f"{path} has label {int(bad)}, but {spec.title} labels are 0 to "
            f"{spec.info.num_classes - 1}; is it the right data set?"
        )


def check_count(key: str, value: int | None, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        unset = " (or unset)" if optional else ""
        raise DataError(f"{key} must be a positive integer{unset}, got {value!r}")
