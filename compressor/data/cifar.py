"""CIFAR-10's python batches, read with an unpickler that can only build plain data.

The published batches are pickles; :class:`_RestrictedUnpickler` builds dicts, lists,
strings, bytes and numpy arrays and refuses every other global before looking it up,
so a crafted file cannot run code.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import DatasetSpec, check_labels

__all__ = ["load_safe_pickle", "read_cifar_batch", "read_cifar_split"]


class _ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle asks for something outside the allowed globals."""


def _numpy_core(module: str):  # numpy 2 calls it numpy._core, numpy 1 numpy.core
    try:
        return importlib.import_module(f"numpy._core.{module}")
    except ImportError:  # pragma: no cover - numpy 1.x
        return importlib.import_module(f"numpy.core.{module}")


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 pickles bytes as _codecs.encode(str, "latin1") under protocol 2.
    if encoding.replace("-", "").lower() not in ("latin1", "iso88591"):
        raise _ForbiddenGlobal(f"it decodes bytes as {encoding!r}; only latin-1 is allowed")
    return text.encode("latin1")


def _safe_globals() -> dict[tuple[str, str], object]:
    multiarray, numeric = _numpy_core("multiarray"), _numpy_core("numeric")
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only plain containers, strings, bytes, numbers and numpy arrays.

    Any other global (a function or class the pickle would call) is refused before it is
    looked up, so a crafted file cannot run code.
    """

    _allowed = _safe_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _ForbiddenGlobal(
                f"it refers to {module}.{name}, which a CIFAR-10 batch never holds (only dicts, "
                "lists, strings, bytes and numpy arrays are allowed); the file was not loaded"
            ) from None


def load_safe_pickle(path: Path) -> object:
    """Unpickle ``path`` with ``_RestrictedUnpickler`` (Python 2 strings decoded as latin-1)."""
    try:
        with open(path, "rb") as file:
            return _RestrictedUnpickler(file, encoding="latin1").load()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except _ForbiddenGlobal as exc:
        raise DataError(f"refusing {path}: {exc}") from None
    except Exception as exc:  # any malformed pickle: EOFError, ValueError, KeyError, ...
        raise DataError(
            f"{path} is not a readable CIFAR-10 batch ({type(exc).__name__}: {exc}); "
            "it is probably truncated: extract it again from cifar-10-python.tar.gz"
        ) from None


def _entry(batch: dict, key: str, path: Path) -> object:
    for candidate in (key, key.encode()):
        if candidate in batch:
            return batch[candidate]
    keys = ", ".join(sorted(repr(k) for k in batch))
    raise DataError(f"{path} has no {key!r} entry (it has {keys}); is it a CIFAR-10 batch?")


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: uint8 images N x 3 x 32 x 32 and int64 labels N."""
    path = Path(path)
    batch = load_safe_pickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a {type(batch).__name__}, not a CIFAR-10 batch (a dict)")
    data = _entry(batch, "data", path)
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        described = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                     else type(data).__name__)
        raise DataError(
            f"{path}: 'data' is a {described}, but CIFAR-10 batches hold a uint8 array of "
            "shape N x 3072"
        )
    labels = _entry(batch, "labels", path)
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = np.zeros((0, 0))  # reported below
    if labels.shape != (data.shape[0],):
        raise DataError(
            f"{path} holds {data.shape[0]} images but its 'labels' are not a list of "
            f"{data.shape[0]} integers; get a fresh copy of it"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _find_cifar_dir(spec: DatasetSpec, root: Path, names: tuple[str, ...]) -> Path:
    places = [root, root / spec.subdir]
    for place in places:
        if all((place / name).is_file() for name in names):
            return place
    place = next((p for p in places if any((p / n).is_file() for n in names)), root)
    missing = ", ".join(n for n in names if not (place / n).is_file())
    raise DataError(f"{spec.title} file(s) {missing} not found in {place}. {spec.how_to_get}")


def read_cifar_split(
    spec: DatasetSpec, split: str, root: Path, limit: int | None
) -> tuple[np.ndarray, np.ndarray]:
    assert spec.files is not None
    names = spec.files[split]
    place = _find_cifar_dir(spec, root, names)
    images, labels, count = [], [], 0
    for name in names:
        if limit is not None and count >= limit:
            break
        batch_images, batch_labels = read_cifar_batch(place / name)
        check_labels(batch_labels, spec, place / name)
        images.append(batch_images)
        labels.append(batch_labels)
        count += len(batch_labels)
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]
