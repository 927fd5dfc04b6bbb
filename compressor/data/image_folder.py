"""``image_folder``: the user's own images, streamed from disk.

``data.dir`` holds ``train/`` and ``val/``, each with one sub-folder per class (the
layout of torchvision's ``ImageFolder``; the same class names in both). Images are
read by a ``DataLoader`` with worker processes, batch by batch, never all at once:

* evaluation (and training without ``augment``): resized so the shorter side is
  ``image_size / 0.875`` (256 for 224, the usual ImageNet ratio), then the centre
  ``height x width`` crop;
* training with ``augment``: a random-resized crop to ``height x width`` and a random
  horizontal flip;
* then scaled to [0, 1] and normalised per channel by ``mean`` / ``std`` (ImageNet's by
  default). Images are converted to RGB (3 channels).

The order of an epoch comes from the generator given to :meth:`FolderSplit.batches`,
and so do the random crops and flips when workers load the images (each worker is
seeded from it); with ``workers: 0`` they come from torch's global generator, which a
run's checkpoints restore. Either way an epoch seeded from (seed, phase, epoch) is the
same every time for the same ``workers``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets
from torchvision.transforms import v2

from ..errors import DataError
from .base import DatasetInfo, check_count

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SPLIT_DIRS", "FolderSplit", "folder_classes",
           "image_folder_info"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: compressor's split name -> the sub-folder of data.dir
SPLIT_DIRS = {"train": "train", "test": "val"}
_CROP_RATIO = 0.875


def _hw(image_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise DataError(f"data.image_size must be an integer or [height, width], got {image_size!r}")
        height, width = image_size
    else:
        height = width = image_size
    for value in (height, width):
        check_count("data.image_size", value, optional=False)
    return int(height), int(width)


def folder_classes(root: str | Path) -> list[str]:
    """The class names (sub-folders of ``train/``, sorted); ``val/`` must have the same."""
    root = Path(root).expanduser()
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise DataError(f"image_folder: data.dir {root} {what}; it must hold train/ and val/, each "
                        "with one sub-folder of images per class")
    found = {}
    for split, sub in SPLIT_DIRS.items():
        folder = root / sub
        if not folder.is_dir():
            raise DataError(f"image_folder: {folder} not found; data.dir must hold train/ and val/, "
                            "each with one sub-folder of images per class")
        found[split] = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not found[split]:
            raise DataError(f"image_folder: {folder} has no class sub-folders")
    if found["train"] != found["test"]:
        only_train = sorted(set(found["train"]) - set(found["test"]))
        only_val = sorted(set(found["test"]) - set(found["train"]))
        raise DataError(f"image_folder: {root}/train and {root}/val have different classes "
                        f"(only in train: {only_train or 'none'}; only in val: {only_val or 'none'})")
    return found["train"]


def image_folder_info(directory: str | Path | None, image_size) -> DatasetInfo:
    """The shape of an image folder: 3 channels, ``image_size``, its classes."""
    if directory is None:
        raise DataError("image_folder needs data.dir (or --data-dir): a directory holding train/ and "
                        "val/ with one sub-folder per class")
    if image_size is None:
        raise DataError("image_folder needs data.image_size: an integer or [height, width]")
    height, width = _hw(image_size)
    size = height if height == width else (height, width)
    return DatasetInfo("image_folder", channels=3, image_size=size,
                       num_classes=len(folder_classes(directory)))


class FolderSplit:
    """One split of an image folder, read from disk in batches (see the module docstring)."""

    name = "image_folder"

    def __init__(self, root: str | Path, split: str, *, image_size, mean=IMAGENET_MEAN,
                 std=IMAGENET_STD, workers: int = 2, limit: int | None = None,
                 augment: bool = False) -> None:
        root = Path(root).expanduser()
        classes = folder_classes(root)
        height, width = _hw(image_size)
        if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
            raise DataError(f"image_folder: data.mean and data.std need 3 values (RGB), std > 0; "
                            f"got mean {list(mean)}, std {list(std)}")
        check_count("data.workers", workers + 1, optional=False)
        check_count("limit", limit)
        self.folder = root / SPLIT_DIRS[split]
        self.workers = workers
        crop = [v2.RandomResizedCrop((height, width)), v2.RandomHorizontalFlip()] if augment else [
            v2.Resize(round(max(height, width) / _CROP_RATIO)), v2.CenterCrop((height, width))]
        transform = v2.Compose([v2.RGB(), v2.PILToTensor(), *crop, v2.ToDtype(torch.float32, scale=True),
                                v2.Normalize(list(mean), list(std))])
        try:
            folder = datasets.ImageFolder(str(self.folder), transform=transform)
        except (FileNotFoundError, OSError) as exc:
            raise DataError(f"image_folder: {self.folder}: {exc}") from None
        if folder.classes != classes:
            raise DataError(f"image_folder: {self.folder} has classes {folder.classes}, expected {classes}")
        self.classes = classes
        self._count = len(folder) if limit is None else min(limit, len(folder))
        # limit: samples spread evenly over the (class-sorted) files, so every class is kept
        self.dataset = folder if self._count == len(folder) else Subset(
            folder, [i * len(folder) // self._count for i in range(self._count)])

    def __len__(self) -> int:
        return self._count

    def num_batches(self, batch_size: int, limit_batches: int | None = None) -> int:
        total = -(-self._count // batch_size)
        return total if limit_batches is None else min(total, limit_batches)

    def batches(self, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                limit_batches: int | None = None):
        """Yield ``(images, labels)``; order, crops and flips all drawn from ``generator``."""
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        loader = DataLoader(self.dataset, batch_size=batch_size, shuffle=shuffle,
                            generator=generator, num_workers=self.workers)
        total = self.num_batches(batch_size, limit_batches)
        for index, batch in enumerate(loader):
            if index >= total:
                break
            yield batch
