"""IDX files: loading, layouts, and every malformed file named (compressor/data/idx.py)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from compressor.data import (
    DATASETS,
    Split,
    load_split,
    read_idx,
)
from compressor.errors import DataError

from .files import FASHION_DIR, expected_images, make_idx, write_idx

# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_loads_shapes_values_and_normalization(tmp_path, name, gz):
    arrays = make_idx(tmp_path, gz=gz)
    for split, (images, labels) in arrays.items():
        data = load_split(name, split, str(tmp_path))
        assert isinstance(data, Split) and data.name == name and len(data) == len(labels)
        assert data.images.shape == (len(labels), 1, 28, 28)
        assert data.images.dtype == torch.float32 and data.labels.dtype == torch.int64
        torch.testing.assert_close(data.images, expected_images(images, name))
        assert data.labels.tolist() == labels.tolist()
        assert 0 <= int(data.labels.min()) and int(data.labels.max()) < 10


def test_idx_limit_keeps_first_samples(tmp_path):
    images, labels = make_idx(tmp_path)["train"]
    data = load_split("mnist", "train", tmp_path, limit=4)
    assert len(data) == 4 and data.labels.tolist() == labels[:4].tolist()
    torch.testing.assert_close(data.images, expected_images(images[:4], "mnist"))
    assert len(load_split("mnist", "train", tmp_path, limit=1000)) == 12


@pytest.mark.parametrize(("name", "subdir"), [("fashion_mnist", "FashionMNIST"), ("mnist", "MNIST")])
def test_idx_torchvision_layout(tmp_path, name, subdir):
    # torchvision keeps both the .gz and the extracted file in <dir>/<Name>/raw/
    make_idx(tmp_path / subdir / "raw", gz=False)
    _, labels = make_idx(tmp_path / subdir / "raw", gz=True)["test"]
    assert load_split(name, "test", tmp_path).labels.tolist() == labels.tolist()
    assert len(load_split(name, "test", tmp_path / subdir)) == 5  # <dir>/<Name> given


def test_fashion_mnist_default_dir_is_debian_package():
    assert DATASETS["fashion_mnist"].default_dir == str(FASHION_DIR)


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_loads():
    train = load_split("fashion_mnist", "train")
    test = load_split("fashion_mnist", "test")
    assert train.images.shape == (60000, 1, 28, 28) and len(test) == 10000
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    # normalized with the data set's own mean and std
    assert abs(train.images.mean().item()) < 0.01
    assert abs(train.images.std().item() - 1.0) < 0.01


def test_missing_directory_says_how_to_get_the_data(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as err:
        load_split("fashion_mnist", "train", str(missing))
    assert str(missing) in str(err.value) and "does not exist" in str(err.value)
    with pytest.raises(DataError, match="--data-dir"):
        load_split("mnist", "train")  # MNIST has no default place
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is not a directory"):
        load_split("mnist", "train", tmp_path / "file")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*--data-dir"):
        load_split("mnist", "train", tmp_path)
    make_idx(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_split("mnist", "test", tmp_path)
    assert len(load_split("mnist", "train", tmp_path)) == 12


def test_bad_magic_number(tmp_path):
    make_idx(tmp_path, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"
    swapped = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte has IDX magic number 0x00000801"):
        load_split("mnist", "train", tmp_path)
    images.write_bytes(swapped)
    labels.write_bytes(b"\x12\x34\x56\x78" + bytes(12))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte is not an IDX file.*0x12345678"):
        load_split("mnist", "train", tmp_path)


@pytest.mark.parametrize("cut", [2, 10, 100])
def test_truncated_idx_file(tmp_path, cut):
    make_idx(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    raw = path.read_bytes()
    path.write_bytes(raw[:cut] if cut < 16 else raw[:-cut])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        load_split("fashion_mnist", "train", tmp_path)


def test_truncated_or_padded_gzip_idx_file(tmp_path):
    make_idx(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is a damaged gzip file"):
        load_split("fashion_mnist", "train", tmp_path)
    path.write_bytes(gzip.compress(gzip.decompress(raw) + b"\0\0"))
    with pytest.raises(DataError, match="extra bytes"):
        load_split("fashion_mnist", "train", tmp_path)


def test_image_label_count_mismatch(tmp_path):
    make_idx(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(DataError, match="holds 12 images but .*train-labels-idx1-ubyte.gz holds 11"):
        load_split("mnist", "train", tmp_path)


def test_wrong_image_size_and_label_range(tmp_path):
    make_idx(tmp_path, size=20)
    with pytest.raises(DataError, match="holds 20x20 images, but MNIST images are 28x28"):
        load_split("mnist", "train", tmp_path)
    make_idx(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(12, 10, np.uint8))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz has label 10.*0 to 9"):
        load_split("mnist", "train", tmp_path)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_idx_read_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(60) - 20).astype(dtype).reshape(3, 4, 5)
    path = write_idx(tmp_path / f"a{suffix}", array)
    back = read_idx(path)
    assert back.shape == (3, 4, 5) and back.dtype.kind == np.dtype(dtype).kind
    np.testing.assert_array_equal(back, array)
    with pytest.raises(ValueError, match="IDX files cannot hold"):
        write_idx(tmp_path / "b", np.zeros(3, np.int64))
