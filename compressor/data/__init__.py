"""Built-in image-classification data sets (see :mod:`.registry`)."""

from .registry import (AUGMENT_PADDING, DATASETS, IDX_DTYPES, SPLITS, DatasetInfo, DatasetSpec,
                       Split, dataset_info, iterate_batches, load_split, num_batches,
                       read_cifar_batch, read_idx, synthetic_split)

__all__ = ["AUGMENT_PADDING", "DATASETS", "IDX_DTYPES", "SPLITS", "DatasetInfo", "DatasetSpec",
           "Split", "dataset_info", "iterate_batches", "load_split", "num_batches",
           "read_cifar_batch", "read_idx", "synthetic_split"]
