"""CIFAR-10 python batches and the restricted unpickler (compressor/data/cifar.py)."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from compressor.data import (
    load_split,
    read_cifar_batch,
)
from compressor.errors import DataError

from .files import expected_images, make_cifar, write_cifar_batch

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


def test_cifar_pickle_decoding_bytes_other_than_latin1_is_refused(tmp_path):
    # protocol 2 spells bytes as _codecs.encode(text, "latin1"); any other codec is refused
    crafted = (b"\x80\x02}(U\x04datac_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib"
               b"\x86RU\x06labels]u.")
    (tmp_path / "test_batch").write_bytes(crafted)
    with pytest.raises(DataError, match="refusing .*test_batch: it decodes bytes as 'zlib'"):
        load_split("cifar10", "test", tmp_path)
