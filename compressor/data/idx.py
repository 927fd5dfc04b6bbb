"""IDX files (MNIST, Fashion-MNIST): :func:`read_idx`, gzipped or not, every header checked."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import DatasetSpec, check_labels

__all__ = ["IDX_DTYPES", "IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "read_idx", "read_idx_split"]

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


def _describe_magic(magic: int) -> str:
    dtype = IDX_DTYPES.get((magic >> 8) & 0xFF)
    kind = dtype.name if dtype is not None else "unknown type"
    return f"0x{magic:08x} ({kind}, {magic & 0xFF} dimensions)"


def _read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped if it starts with gzip's signature."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{path} is a damaged gzip file ({exc}); it is probably truncated: "
            "get a fresh copy of it (or reinstall the package that provides it)"
        ) from None


def read_idx(path: str | Path, *, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a read-only numpy array of its shape and type.

    Raises ``DataError`` naming the file when it is not IDX, has another magic number than
    ``expected_magic``, or its size does not match its header.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    code, ndim = raw[2], raw[3]
    if raw[0] or raw[1] or code not in IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file: its magic number 0x{magic:08x} should be 0x0000TTNN "
            "(TT the value type, NN the number of dimensions); is it the right file, fully written?"
        )
    if expected_magic is not None and magic != expected_magic:
        raise DataError(
            f"{path} has IDX magic number {_describe_magic(magic)}, but "
            f"{_describe_magic(expected_magic)} is expected here; are the image and label "
            "files swapped or renamed?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header ({len(raw)} bytes)")
    dims = struct.unpack_from(f">{ndim}I", raw, 4)
    dtype = IDX_DTYPES[code]
    count = math.prod(dims)
    expected = count * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        shape = "x".join(map(str, dims))
        problem = "is truncated" if actual < expected else "has extra bytes at the end"
        raise DataError(
            f"{path} {problem}: its header promises {shape} values of {dtype.name} "
            f"({expected} bytes of data) but {actual} bytes follow; get a fresh copy of it"
        )
    return np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)


def _find_idx_files(spec: DatasetSpec, split: str, root: Path) -> tuple[Path, Path]:
    """The (images, labels) files of ``split`` in ``root`` or torchvision's layout below it."""
    assert spec.files is not None
    images_name, labels_name = spec.files[split]
    places = [root, root / "raw", root / spec.subdir / "raw"]
    for place in places:
        for suffix in ("", ".gz"):
            images = place / (images_name + suffix)
            if images.is_file():
                for label_suffix in ("", ".gz"):
                    labels = place / (labels_name + label_suffix)
                    if labels.is_file():
                        return images, labels
                raise DataError(
                    f"{place} has {images.name} but not {labels_name}[.gz], the labels that go "
                    f"with it. {spec.how_to_get}"
                )
    looked = ", ".join(str(p) for p in places if p.is_dir())
    raise DataError(f"{images_name}[.gz] of {spec.title} not found in {looked}. {spec.how_to_get}")


def read_idx_split(
    spec: DatasetSpec, split: str, root: Path, limit: int | None
) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = _find_idx_files(spec, split, root)
    images = read_idx(images_path, expected_magic=IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=IDX_LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; both files must be of the same split and complete"
        )
    size = spec.info.image_size
    if images.shape[1:] != (size, size):
        raise DataError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, but "
            f"{spec.title} images are {size}x{size}; is it the right data set?"
        )
    check_labels(labels, spec, labels_path)
    return images[:limit, None], labels[:limit]
