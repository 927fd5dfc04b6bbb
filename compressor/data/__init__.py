"""Image-classification data: built-in sets loaded whole into memory from local files,
and the user's image folders streamed from disk.

``load_split(name, "train" | "test", data_dir)`` gives a :class:`Split`;
``iterate_batches(split, ...)`` its batches. In the order a split is made:

1. :mod:`.registry`  the data sets by name (``fashion_mnist``, ``mnist``, ``cifar10``,
   ``synthetic``, ``synthetic_rgb``, ``image_folder``): shape, normalisation, where the
   files are;
2. a reader per format: :mod:`.idx` (MNIST, Fashion-MNIST), :mod:`.cifar` (pickled
   batches, read with a restricted unpickler), or :mod:`.synthetic` (generated);
3. :mod:`.base`  the normalised :class:`Split` in memory;
4. :mod:`.batches`  shuffled, optionally augmented batches, reproducible from a generator.

``image_folder`` (:mod:`.image_folder`) is read differently: ``load_folder_split`` gives a
:class:`FolderSplit` whose ``batches(...)`` come from a ``DataLoader`` with workers
(torchvision's ``ImageFolder``), reproducible from a generator too.

Nothing is ever downloaded; a missing or malformed file raises ``DataError`` naming it.
"""

from .base import SPLITS, DatasetInfo, DatasetSpec, Split
from .batches import AUGMENT_PADDING, iterate_batches, num_batches
from .cifar import read_cifar_batch
from .idx import IDX_DTYPES, read_idx
from .image_folder import IMAGENET_MEAN, IMAGENET_STD, FolderSplit
from .registry import (
    DATASETS,
    IMAGE_FOLDER,
    dataset_info,
    dataset_names,
    is_image_folder,
    load_folder_split,
    load_split,
)
from .synthetic import synthetic_split

__all__ = ["AUGMENT_PADDING", "DATASETS", "IDX_DTYPES", "IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_FOLDER",
           "SPLITS", "DatasetInfo", "DatasetSpec", "FolderSplit", "Split", "dataset_info", "dataset_names",
           "is_image_folder", "iterate_batches", "load_folder_split", "load_split", "num_batches",
           "read_cifar_batch", "read_idx", "synthetic_split"]
