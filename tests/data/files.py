"""Small data files in the real on-disk formats, for the data tests.

``write_idx`` writes IDX files (MNIST, Fashion-MNIST); ``write_cifar_batch`` writes a
CIFAR-10 python batch byte-for-byte in the layout of the published files (a Python 2
pickle, protocol 2, referring to ``numpy.core.multiarray._reconstruct``), so the loader is
tested against the format it meets in the wild.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from compressor.data import DATASETS, IDX_DTYPES

__all__ = ["FASHION_DIR", "IDX_NAMES", "expected_images", "make_cifar", "make_idx",
           "write_cifar_batch", "write_idx"]


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file; gzipped when ``path`` ends in ``.gz``."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(dtype.name for dtype in IDX_DTYPES.values())
        raise ValueError(f"IDX files cannot hold {array.dtype} values, only {names}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(IDX_DTYPES[code], copy=False).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=1)
    path.write_bytes(payload)
    return path


def _py2_str(value: bytes) -> bytes:
    """A Python 2 ``str`` (a byte string) in protocol 2."""
    if len(value) < 256:
        return pickle.SHORT_BINSTRING + bytes([len(value)]) + value
    return pickle.BINSTRING + struct.pack("<i", len(value)) + value


def _py2_int(value: int) -> bytes:
    if 0 <= value < 256:
        return pickle.BININT1 + bytes([value])
    return pickle.BININT + struct.pack("<i", value)


def _py2_uint8_array(data: np.ndarray) -> bytes:
    """An ndarray of uint8 as numpy 1.x pickled it under Python 2."""
    shape = b"".join(_py2_int(n) for n in data.shape)
    return b"".join([
        pickle.GLOBAL, b"numpy.core.multiarray\n_reconstruct\n",
        pickle.GLOBAL, b"numpy\nndarray\n",
        _py2_int(0), pickle.TUPLE1, _py2_str(b"b"), pickle.TUPLE3, pickle.REDUCE,
        pickle.MARK, _py2_int(1), pickle.MARK, shape, pickle.TUPLE,
        pickle.GLOBAL, b"numpy\ndtype\n",
        _py2_str(b"u1"), _py2_int(0), _py2_int(1), pickle.TUPLE3, pickle.REDUCE,
        pickle.MARK, _py2_int(3), _py2_str(b"|"), pickle.NONE, pickle.NONE, pickle.NONE,
        pickle.BININT + struct.pack("<i", -1), pickle.BININT + struct.pack("<i", -1),
        _py2_int(0), pickle.TUPLE, pickle.BUILD,
        pickle.NEWFALSE, _py2_str(np.ascontiguousarray(data).tobytes()),
        pickle.TUPLE, pickle.BUILD,
    ])


def write_cifar_batch(
    path: str | Path,
    images: np.ndarray,
    labels: Sequence[int],
    *,
    batch_label: str = "testing batch 1 of 1",
) -> Path:
    """Write a CIFAR-10 python batch: ``images`` uint8 N x 3 x 32 x 32 (or N x 3072)."""
    path = Path(path)
    data = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    labels = [int(label) for label in labels]
    items = [
        (b"batch_label", _py2_str(batch_label.encode())),
        (b"labels", pickle.EMPTY_LIST + pickle.MARK + b"".join(map(_py2_int, labels))
         + pickle.APPENDS),
        (b"data", _py2_uint8_array(data)),
        (b"filenames", pickle.EMPTY_LIST + pickle.MARK
         + b"".join(_py2_str(b"image_%05d.png" % i) for i in range(len(data))) + pickle.APPENDS),
    ]
    body = b"".join(_py2_str(key) + value for key, value in items)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.PROTO + b"\x02" + pickle.EMPTY_DICT + pickle.MARK + body
                     + pickle.SETITEMS + pickle.STOP)
    return path

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
    return {split: (np.concatenate(images), np.concatenate(labels))
            for split, (images, labels) in arrays.items()}


def expected_images(images: np.ndarray, name: str) -> torch.Tensor:
    spec = DATASETS[name]
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    if x.dim() == 3:
        x = x[:, None]
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (x - mean) / std
