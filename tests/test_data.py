"""compressor.data: loading IDX / CIFAR-10 / synthetic data and iterating over batches."""

from __future__ import annotations

import gzip
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from compressor.data import (
    AUGMENT_PADDING,
    DATASETS,
    DatasetInfo,
    Split,
    dataset_info,
    iterate_batches,
    load_split,
    num_batches,
    read_cifar_batch,
    read_idx,
    synthetic_split,
)
from compressor.errors import CompressorError, DataError
from compressor.testing import write_cifar_batch, write_idx

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def make_idx(directory: Path, *, counts=None, gz: bool = True, seed: int = 0, size: int = 28):
    """Write train/test IDX files; return {split: (uint8 images N x H x W, uint8 labels N)}."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in (counts or {"train": 12, "test": 5}).items():
        images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(directory / (IDX_NAMES[split][0] + suffix), images)
        write_idx(directory / (IDX_NAMES[split][1] + suffix), labels)
        arrays[split] = (images, labels)
    return arrays


def make_cifar(directory: Path, per_batch: int = 3, seed: int = 0):
    """Write the 6 CIFAR-10 batches; return {split: (uint8 images N x 3 x 32 x 32, labels N)}."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    names = [("train", f"data_batch_{i}") for i in range(1, 6)] + [("test", "test_batch")]
    for split, name in names:
        images = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch)
        write_cifar_batch(directory / name, images, labels)
        arrays[split][0].append(images)
        arrays[split][1].append(labels)
    return {split: (np.concatenate(i), np.concatenate(l)) for split, (i, l) in arrays.items()}


def expected_images(images: np.ndarray, name: str) -> torch.Tensor:
    spec = DATASETS[name]
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    if x.dim() == 3:
        x = x[:, None]
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (x - mean) / std


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


# ----------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("in_child", [False, True])
def test_cifar_loads_both_layouts(tmp_path, in_child):
    batches = tmp_path / "cifar-10-batches-py" if in_child else tmp_path
    arrays = make_cifar(batches)
    for split, count in (("train", 15), ("test", 3)):
        data = load_split("cifar10", split, tmp_path)
        images, labels = arrays[split]
        assert data.images.shape == (count, 3, 32, 32) and data.images.dtype == torch.float32
        assert data.labels.dtype == torch.int64 and data.labels.tolist() == labels.tolist()
        torch.testing.assert_close(data.images, expected_images(images, "cifar10"))
    assert len(load_split("cifar10", "train", batches)) == 15


def test_cifar_limit_reads_only_needed_batches(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"damaged")
    assert len(load_split("cifar10", "train", tmp_path, limit=5)) == 5
    with pytest.raises(DataError, match="data_batch_3 is not a readable CIFAR-10 batch"):
        load_split("cifar10", "train", tmp_path)


def test_cifar_batch_in_python2_layout(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    path = write_cifar_batch(tmp_path / "b", images, [3, 1, 4, 1])
    raw = path.read_bytes()
    # as the published files: protocol 2, Python 2 strings, numpy.core names
    assert raw.startswith(b"\x80\x02}(U\x0bbatch_label") and b"cnumpy.core.multiarray\n" in raw
    back, labels = read_cifar_batch(path)
    np.testing.assert_array_equal(back, images)
    assert labels.tolist() == [3, 1, 4, 1] and labels.dtype == np.int64


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batch_pickled_by_python3(tmp_path, protocol):
    images = np.random.default_rng(2).integers(0, 256, (2, 3072), dtype=np.uint8)
    with open(tmp_path / "b", "wb") as file:
        pickle.dump({b"data": images, b"labels": np.array([7, 8])}, file, protocol=protocol)
    back, labels = read_cifar_batch(tmp_path / "b")
    np.testing.assert_array_equal(back.reshape(2, -1), images)
    assert labels.tolist() == [7, 8]


class _MakeDir:
    """Pickles as a call that would create a directory: must never run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def test_cifar_pickle_with_disallowed_global_is_refused(tmp_path):
    make_cifar(tmp_path)
    marker = tmp_path / "code-ran"
    with open(tmp_path / "test_batch", "wb") as file:
        pickle.dump({b"data": _MakeDir(marker), b"labels": []}, file, protocol=2)
    with pytest.raises(DataError, match=r"refusing .*test_batch: it refers to posix.mkdir"):
        load_split("cifar10", "test", tmp_path)
    assert not marker.exists()
    with open(tmp_path / "test_batch", "wb") as file:
        pickle.dump({b"data": "x", b"labels": []}, file, protocol=2)
    with pytest.raises(DataError, match="test_batch: 'data' is a str, but CIFAR-10 batches"):
        load_split("cifar10", "test", tmp_path)


def test_cifar_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="test_batch not found .*cifar-10-python.tar.gz"):
        load_split("cifar10", "test", tmp_path)
    make_cifar(tmp_path)
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(DataError, match=r"data_batch_4 not found in " + re.escape(str(tmp_path))):
        load_split("cifar10", "train", tmp_path)
    raw = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(raw[:-500])
    with pytest.raises(DataError, match="test_batch is not a readable CIFAR-10 batch.*truncated"):
        load_split("cifar10", "test", tmp_path)
    with open(tmp_path / "test_batch", "wb") as file:
        pickle.dump({b"fine_labels": [1]}, file)
    with pytest.raises(DataError, match="test_batch has no 'data' entry"):
        load_split("cifar10", "test", tmp_path)
    with open(tmp_path / "test_batch", "wb") as file:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, file)
    with pytest.raises(DataError, match="test_batch holds 2 images but its 'labels'"):
        load_split("cifar10", "test", tmp_path)
    write_cifar_batch(tmp_path / "test_batch", np.zeros((1, 3, 32, 32), np.uint8), [12])
    with pytest.raises(DataError, match="test_batch has label 12"):
        load_split("cifar10", "test", tmp_path)


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


def test_cifar_pickle_decoding_bytes_other_than_latin1_is_refused(tmp_path):
    # protocol 2 spells bytes as _codecs.encode(text, "latin1"); any other codec is refused
    crafted = (b"\x80\x02}(U\x04datac_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib"
               b"\x86RU\x06labels]u.")
    (tmp_path / "test_batch").write_bytes(crafted)
    with pytest.raises(DataError, match="refusing .*test_batch: it decodes bytes as 'zlib'"):
        load_split("cifar10", "test", tmp_path)
