"""The registry of built-in data sets by name, and :func:`load_split`.

Every data set is loaded whole into memory from local files.

Supported names (see ``DATASETS``):

* ``fashion_mnist`` and ``mnist``: the IDX files (``train-images-idx3-ubyte.gz`` ...,
  gzipped or not) in a directory, or in torchvision's ``<dir>/FashionMNIST/raw/`` /
  ``<dir>/MNIST/raw/`` layout. Fashion-MNIST defaults to the Debian package
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
* ``cifar10``: the python version's pickled batches (``data_batch_1`` ... ``data_batch_5``,
  ``test_batch``) in a directory or its child ``cifar-10-batches-py``. The pickles are read
  with an unpickler that only builds dicts, lists, strings, bytes and numpy arrays.
* ``synthetic`` (1x28x28) and ``synthetic_rgb`` (3x32x32): generated, deterministic,
  learnable data for tests (see ``synthetic_split`` for every knob).
* ``image_folder``: the user's images in ``<dir>/train/<class>/`` and ``<dir>/val/<class>/``,
  streamed from disk (:mod:`.image_folder`); its shape comes from the directory and
  ``image_size``, so :func:`dataset_info` needs both.

Nothing is ever downloaded. A missing or malformed file raises ``DataError`` naming the
file and saying how to fix it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import SPLITS, DatasetInfo, DatasetSpec, Split, check_count
from .cifar import read_cifar_split
from .idx import read_idx_split
from .image_folder import IMAGENET_MEAN, IMAGENET_STD, FolderSplit, image_folder_info
from .synthetic import synthetic_split

__all__ = ["DATASETS", "IMAGE_FOLDER", "dataset_info", "dataset_names", "dataset_spec", "is_image_folder",
           "load_folder_split", "load_split"]

#: The name of the user's image folders (not in ``DATASETS``: its shape depends on the folder).
IMAGE_FOLDER = "image_folder"

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_LIST = (
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
    "and t10k-labels-idx1-ubyte.gz (gzipped or not; torchvision's layout <dir>/{sub}/raw/ "
    "works too)"
)
_NO_DOWNLOAD = "compressor never downloads data."


def _synthetic_spec(name: str, title: str, *, channels: int, image_size: int) -> DatasetSpec:
    return DatasetSpec(
        info=DatasetInfo(name, channels=channels, image_size=image_size, num_classes=10),
        title=title,
        mean=(0.0,) * channels,  # generated with zero mean and unit variance
        std=(1.0,) * channels,
        hflip=False,  # the class patterns are not mirror-symmetric
        read=None,
        synthetic_sizes={"train": 2048, "test": 512},
    )


DATASETS: dict[str, DatasetSpec] = {
    spec.info.name: spec
    for spec in (
        DatasetSpec(
            info=DatasetInfo("fashion_mnist", channels=1, image_size=28, num_classes=10),
            title="Fashion-MNIST",
            mean=(0.2860,),
            std=(0.3530,),
            hflip=True,
            read=read_idx_split,
            default_dir="/usr/share/datasets/fashion-mnist",
            subdir="FashionMNIST",
            files=_IDX_FILES,
            how_to_get=(
                "Install it with `apt-get install dataset-fashion-mnist` (files go to "
                "/usr/share/datasets/fashion-mnist, the default), or pass --data-dir (data.dir "
                "in a schedule) naming a directory that holds "
                + _IDX_LIST.format(sub="FashionMNIST") + ". " + _NO_DOWNLOAD
            ),
        ),
        DatasetSpec(
            info=DatasetInfo("mnist", channels=1, image_size=28, num_classes=10),
            title="MNIST",
            mean=(0.1307,),
            std=(0.3081,),
            hflip=False,  # mirrored digits are other digits
            read=read_idx_split,
            subdir="MNIST",
            files=_IDX_FILES,
            how_to_get=(
                "Pass --data-dir (data.dir in a schedule) naming a directory that holds MNIST's "
                + _IDX_LIST.format(sub="MNIST") + ". " + _NO_DOWNLOAD
            ),
        ),
        DatasetSpec(
            info=DatasetInfo("cifar10", channels=3, image_size=32, num_classes=10),
            title="CIFAR-10",
            mean=(0.4914, 0.4822, 0.4465),
            std=(0.2470, 0.2435, 0.2616),
            hflip=True,
            read=read_cifar_split,
            subdir="cifar-10-batches-py",
            files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                   "test": ("test_batch",)},
            how_to_get=(
                "Extract CIFAR-10's python version (cifar-10-python.tar.gz) and pass --data-dir "
                "(data.dir in a schedule) naming its cifar-10-batches-py directory or the one "
                "holding it; it must contain data_batch_1 to data_batch_5 and test_batch. "
                + _NO_DOWNLOAD
            ),
        ),
        _synthetic_spec("synthetic", "synthetic data", channels=1, image_size=28),
        _synthetic_spec("synthetic_rgb", "synthetic RGB data", channels=3, image_size=32),
    )
}


def _squash(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def dataset_names() -> list[str]:
    """Every name ``data.dataset`` accepts."""
    return [*DATASETS, IMAGE_FOLDER]


def is_image_folder(name: str) -> bool:
    return _squash(name) == _squash(IMAGE_FOLDER)


def dataset_spec(name: str) -> DatasetSpec:
    """The registered data set ``name``, ignoring case, "-" and "_" ("CIFAR-10" is cifar10)."""
    key = _squash(name)
    for registered, spec in DATASETS.items():
        if _squash(registered) == key:
            return spec
    if is_image_folder(name):
        raise DataError("image_folder has no fixed spec; use dataset_info(name, directory, image_size)")
    close = difflib.get_close_matches(str(name).lower(), dataset_names(), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise DataError(f"unknown data set {name!r}; {hint}available: {', '.join(dataset_names())}")


def dataset_info(name: str, directory: str | None = None, image_size=None) -> DatasetInfo:
    """Shape and class count of a data set (``DataError`` for unknown names); an image
    folder's come from ``directory`` (its classes) and ``image_size``."""
    if is_image_folder(name):
        return image_folder_info(directory, image_size)
    return dataset_spec(name).info


def load_folder_split(directory: str, split: str, *, image_size, mean=None, std=None,
                      workers: int = 2, limit: int | None = None, augment: bool = False) -> FolderSplit:
    """A split (``"train"``: ``train/``, ``"test"``: ``val/``) of an image folder, streamed
    from disk; ``mean`` / ``std`` default to ImageNet's."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} of an image folder; use one of {', '.join(SPLITS)}")
    return FolderSplit(directory, split, image_size=image_size, mean=mean or IMAGENET_MEAN,
                       std=std or IMAGENET_STD, workers=workers, limit=limit, augment=augment)


def _normalize(images: np.ndarray, spec: DatasetSpec) -> torch.Tensor:
    """uint8 N x C x H x W -> float32 ``(x / 255 - mean) / std`` per channel."""
    tensor = torch.from_numpy(images.astype(np.float32))  # a writable copy
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    return tensor.mul_(1.0 / (255.0 * std)).sub_(mean / std)


def load_split(
    name: str,
    split: str,
    data_dir: str | None = None,
    *,
    limit: int | None = None,
    synthetic_size: int | None = None,
) -> Split:
    """Load a whole split (``"train"`` or ``"test"``) into memory.

    ``data_dir`` defaults to the data set's standard place (Fashion-MNIST's Debian package);
    ``limit`` keeps the first ``limit`` samples; ``synthetic_size`` sets the sample count
    of the synthetic data sets (default 2048 train / 512 test).
    """
    spec = dataset_spec(name)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} of {spec.title}; use one of {', '.join(SPLITS)}")
    check_count("limit", limit)
    check_count("synthetic_size", synthetic_size)
    info = spec.info
    if spec.read is None:
        assert spec.synthetic_sizes is not None
        count = synthetic_size or spec.synthetic_sizes[split]
        data = synthetic_split(min(count, limit or count), num_classes=info.num_classes,
                               channels=info.channels, image_size=info.image_size,
                               split=split, name=info.name)
        return data
    if synthetic_size is not None:
        raise DataError(
            f"synthetic_size only applies to the synthetic data sets, not {info.name}; "
            "use limit to load fewer samples"
        )
    directory = data_dir or spec.default_dir
    if directory is None:
        raise DataError(f"no directory given for {spec.title}. {spec.how_to_get}")
    root = Path(directory).expanduser()
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise DataError(f"{spec.title} directory {root} {what}. {spec.how_to_get}")
    images, labels = spec.read(spec, split, root, limit)
    return Split(
        images=_normalize(images, spec),
        labels=torch.from_numpy(labels.astype(np.int64)),
        name=info.name,
    )
