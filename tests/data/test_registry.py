"""The data sets by name (compressor/data/registry.py)."""

from __future__ import annotations

import pytest

from compressor.data import (
    DatasetInfo,
    dataset_info,
    load_split,
)
from compressor.errors import CompressorError, DataError

# ----------------------------------------------------------------------------- registry


def test_dataset_info_and_unknown_names():
    assert dataset_info("fashion_mnist") == DatasetInfo("fashion_mnist", 1, 28, 10)
    assert dataset_info("CIFAR-10") == DatasetInfo("cifar10", 3, 32, 10)
    assert dataset_info("synthetic") == DatasetInfo("synthetic", 1, 28, 10)
    with pytest.raises(DataError, match="unknown data set 'fashion_mnsit'; did you mean 'fashion_mnist'"):
        dataset_info("fashion_mnsit")
    with pytest.raises(CompressorError, match="available: fashion_mnist, mnist, cifar10"):
        load_split("imagenet", "train")
    with pytest.raises(DataError, match="unknown split 'val'.*train, test"):
        load_split("synthetic", "val")
    with pytest.raises(DataError, match="limit must be a positive integer"):
        load_split("synthetic", "train", limit=0)
    with pytest.raises(DataError, match="synthetic_size only applies to the synthetic"):
        load_split("mnist", "train", "/nonexistent", synthetic_size=10)
