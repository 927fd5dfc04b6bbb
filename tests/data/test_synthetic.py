"""Generated data: deterministic and learnable (compressor/data/synthetic.py)."""

from __future__ import annotations

import pytest
import torch

from compressor.data import (
    load_split,
    synthetic_split,
)
from compressor.errors import DataError

# ----------------------------------------------------------------------------- synthetic


def test_synthetic_is_deterministic_and_configurable():
    a = load_split("synthetic", "train", synthetic_size=100)
    b = load_split("synthetic", "train", synthetic_size=100)
    assert a.images.shape == (100, 1, 28, 28) and a.images.dtype == torch.float32
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.bincount(a.labels).tolist() == [10] * 10
    test = load_split("synthetic", "test")
    assert len(test) == 512 and not torch.equal(test.images[:100], a.images)
    assert len(load_split("synthetic", "train", limit=7)) == 7
    rgb = load_split("synthetic_rgb", "test", synthetic_size=8)
    assert rgb.images.shape == (8, 3, 32, 32)
    custom = synthetic_split(30, num_classes=3, channels=2, image_size=9, seed=5)
    assert custom.images.shape == (30, 2, 9, 9) and set(custom.labels.tolist()) == {0, 1, 2}
    assert not torch.equal(custom.images, synthetic_split(30, num_classes=3, channels=2,
                                                          image_size=9, seed=6).images)
    with pytest.raises(DataError, match="num_classes must be an integer >= 2"):
        synthetic_split(10, num_classes=1)


def test_synthetic_is_learnable():
    train = load_split("synthetic", "train", synthetic_size=500)
    test = load_split("synthetic", "test", synthetic_size=200)
    centroids = torch.stack([train.images[train.labels == c].mean(0) for c in range(10)])
    predicted = torch.cdist(test.images.flatten(1), centroids.flatten(1)).argmin(1)
    assert (predicted == test.labels).float().mean() > 0.9
