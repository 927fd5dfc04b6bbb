"""Image-classification data sets, loaded whole into memory from local files.

Supported names (see ``DATASETS``):

* ``fashion_mnist`` and ``mnist``: the IDX files (``train-images-idx3-ubyte.gz`` ...,
  gzipped or not) in a directory, or in torchvision's ``<dir>/FashionMNIST/raw/`` /
  ``<dir>/MNIST/raw/`` layout. Fashion-MNIST defaults to the Debian package
  ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``).
* ``cifar10``: the python version's pickled batches (``data_batch_1`` ... ``data_batch_5``,
  ``test_batch``) in a directory or its child ``cifar-10-batches-py``. The pickles are read
  with an unpickler that only builds dicts, lists, strings, bytes and numpy arrays.
* ``synthetic`` (1x28x28) and ``synthetic_rgb`` (3x32x32): generated, deterministic,
  learnable data for tests (see ``synthetic_split`` for every knob).

Nothing is ever downloaded. A missing or malformed file raises ``DataError`` naming the
file and saying how to fix it.
"""

from __future__ import annotations

import difflib
import gzip
import importlib
import math
import pickle
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetSpec",
    "SPLITS",
    "Split",
    "dataset_info",
    "iterate_batches",
    "load_split",
    "num_batches",
    "read_idx",
    "synthetic_split",
]

SPLITS = ("train", "test")

#: Padding (pixels, each side) of the random crop done by ``iterate_batches(augment=True)``.
AUGMENT_PADDING = 4


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    channels: int
    image_size: int
    num_classes: int


@dataclass
class Split:
    """A whole split in memory: ``images`` float32 N x C x H x W, normalized; ``labels`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    #: The ``DATASETS`` name it came from (decides e.g. whether augmentation flips).
    name: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class DatasetSpec:
    info: DatasetInfo
    title: str  # human name for messages
    mean: tuple[float, ...]  # per channel, of pixels scaled to [0, 1]
    std: tuple[float, ...]
    hflip: bool  # whether augmentation may mirror images
    read: Reader | None  # None: generated (synthetic)
    how_to_get: str = ""  # appended to "missing data" errors
    default_dir: str | None = None
    subdir: str = ""  # torchvision's folder name (IDX) / the archive's folder (CIFAR)
    files: dict[str, tuple[str, ...]] | None = None  # per split: file names (IDX: images, labels)
    synthetic_sizes: dict[str, int] | None = None  # per split: default sample count


# (spec, split, directory, limit) -> uint8 images N x C x H x W and integer labels N
Reader = Callable[[DatasetSpec, str, Path, int | None], tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------- IDX files

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


def _read_idx_split(
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
    _check_labels(labels, spec, labels_path)
    return images[:limit, None], labels[:limit]


def _check_labels(labels: np.ndarray, spec: DatasetSpec, path: Path) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= spec.info.num_classes):
        bad = labels.max() if labels.max() >= spec.info.num_classes else labels.min()
        raise DataError(
            f"{path} has label {int(bad)}, but {spec.title} labels are 0 to "
            f"{spec.info.num_classes - 1}; is it the right data set?"
        )


# ----------------------------------------------------------------------------- CIFAR-10


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


def _read_cifar_split(
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
        _check_labels(batch_labels, spec, place / name)
        images.append(batch_images)
        labels.append(batch_labels)
        count += len(batch_labels)
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit]


# ----------------------------------------------------------------------------- synthetic


def synthetic_split(
    num_samples: int,
    *,
    num_classes: int = 10,
    channels: int = 1,
    image_size: int = 28,
    seed: int = 0,
    split: str = "train",
    noise: float = 1.0,
    name: str = "synthetic",
) -> Split:
    """A generated, learnable classification split; the same arguments give the same data.

    Each class has a smooth random prototype image (drawn from ``seed``, shared by the
    splits); a sample is its class's prototype plus Gaussian pixel noise of relative
    strength ``noise`` (drawn from ``seed`` and ``split``), scaled to unit variance.
    Labels are balanced and shuffled.
    """
    for key, value, least in (("num_samples", num_samples, 1), ("num_classes", num_classes, 2),
                              ("channels", channels, 1), ("image_size", image_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise DataError(f"synthetic data: {key} must be an integer >= {least}, got {value!r}")
    if split not in SPLITS:
        raise DataError(f"synthetic data: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    prototypes_rng = torch.Generator().manual_seed(seed)
    coarse = max(2, image_size // 7)
    prototypes = torch.randn(num_classes, channels, coarse, coarse, generator=prototypes_rng)
    prototypes = F.interpolate(prototypes, size=(image_size, image_size), mode="bilinear",
                               align_corners=False)
    flat = prototypes.flatten(1)
    prototypes = ((flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-6)
                  ).view_as(prototypes)
    samples_rng = torch.Generator().manual_seed(seed * 1_000_003 + 1 + SPLITS.index(split))
    labels = torch.arange(num_samples) % num_classes
    labels = labels[torch.randperm(num_samples, generator=samples_rng)]
    pixels = torch.randn(num_samples, channels, image_size, image_size, generator=samples_rng)
    images = (prototypes[labels] + noise * pixels) / math.sqrt(1.0 + noise * noise)
    return Split(images=images.contiguous(), labels=labels, name=name)


# ----------------------------------------------------------------------------- registry

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_LIST = (
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
    "and t10k-labels-idx1-ubyte.gz (gzipped or not; torchvision's layout <dir>/{sub}/raw/ "
    "works too)"
)
_NO_DOWNLOAD = "compressor never downloads data."

def _synthetic_spec(name: str, title: str, *, channels: int, image_size: int) -> DatasetSpec:
    return DatasetSpec(
        info=DatasetInfo(name, channels=channels, image_size=image_size, num_classes=10),
        title=title,
        mean=(0.0,) * channels,  # generated with zero mean and unit variance
        std=(1.0,) * channels,
        hflip=False,  # the class patterns are not mirror-symmetric
        read=None,
        synthetic_sizes={"train": 2048, "test": 512},
    )


DATASETS: dict[str, DatasetSpec] = {
    spec.info.name: spec
    for spec in (
        DatasetSpec(
            info=DatasetInfo("fashion_mnist", channels=1, image_size=28, num_classes=10),
            title="Fashion-MNIST",
            mean=(0.2860,),
            std=(0.3530,),
            hflip=True,
            read=_read_idx_split,
            default_dir="/usr/share/datasets/fashion-mnist",
            subdir="FashionMNIST",
            files=_IDX_FILES,
            how_to_get=(
                "Install it with `apt-get install dataset-fashion-mnist` (files go to "
                "/usr/share/datasets/fashion-mnist, the default), or pass --data-dir (data.dir "
                "in a schedule) naming a directory that holds "
                + _IDX_LIST.format(sub="FashionMNIST") + ". " + _NO_DOWNLOAD
            ),
        ),
        DatasetSpec(
            info=DatasetInfo("mnist", channels=1, image_size=28, num_classes=10),
            title="MNIST",
            mean=(0.1307,),
            std=(0.3081,),
            hflip=False,  # mirrored digits are other digits
            read=_read_idx_split,
            subdir="MNIST",
            files=_IDX_FILES,
            how_to_get=(
                "Pass --data-dir (data.dir in a schedule) naming a directory that holds MNIST's "
                + _IDX_LIST.format(sub="MNIST") + ". " + _NO_DOWNLOAD
            ),
        ),
        DatasetSpec(
            info=DatasetInfo("cifar10", channels=3, image_size=32, num_classes=10),
            title="CIFAR-10",
            mean=(0.4914, 0.4822, 0.4465),
            std=(0.2470, 0.2435, 0.2616),
            hflip=True,
            read=_read_cifar_split,
            subdir="cifar-10-batches-py",
            files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                   "test": ("test_batch",)},
            how_to_get=(
                "Extract CIFAR-10's python version (cifar-10-python.tar.gz) and pass --data-dir "
                "(data.dir in a schedule) naming its cifar-10-batches-py directory or the one "
                "holding it; it must contain data_batch_1 to data_batch_5 and test_batch. "
                + _NO_DOWNLOAD
            ),
        ),
        _synthetic_spec("synthetic", "synthetic data", channels=1, image_size=28),
        _synthetic_spec("synthetic_rgb", "synthetic RGB data", channels=3, image_size=32),
    )
}


def _squash(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _spec(name: str) -> DatasetSpec:
    """The registered data set ``name``, ignoring case, "-" and "_" ("CIFAR-10" is cifar10)."""
    key = _squash(name)
    for registered, spec in DATASETS.items():
        if _squash(registered) == key:
            return spec
    close = difflib.get_close_matches(str(name).lower(), DATASETS, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise DataError(f"unknown data set {name!r}; {hint}available: {', '.join(DATASETS)}")


def dataset_info(name: str) -> DatasetInfo:
    """Shape and class count of a registered data set (``DataError`` for unknown names)."""
    return _spec(name).info


def _check_count(key: str, value: int | None, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        unset = " (or unset)" if optional else ""
        raise DataError(f"{key} must be a positive integer{unset}, got {value!r}")


def _normalize(images: np.ndarray, spec: DatasetSpec) -> torch.Tensor:
    """uint8 N x C x H x W -> float32 ``(x / 255 - mean) / std`` per channel."""
    tensor = torch.from_numpy(images.astype(np.float32))  # a writable copy
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    return tensor.mul_(1.0 / (255.0 * std)).sub_(mean / std)


def load_split(
    name: str,
    split: str,
    data_dir: str | None = None,
    *,
    limit: int | None = None,
    synthetic_size: int | None = None,
) -> Split:
    """Load a whole split (``"train"`` or ``"test"``) into memory.

    ``data_dir`` defaults to the data set's standard place (Fashion-MNIST's Debian package);
    ``limit`` keeps the first ``limit`` samples; ``synthetic_size`` sets the sample count
    of the synthetic data sets (default 2048 train / 512 test).
    """
    spec = _spec(name)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} of {spec.title}; use one of {', '.join(SPLITS)}")
    _check_count("limit", limit)
    _check_count("synthetic_size", synthetic_size)
    info = spec.info
    if spec.read is None:
        assert spec.synthetic_sizes is not None
        count = synthetic_size or spec.synthetic_sizes[split]
        data = synthetic_split(min(count, limit or count), num_classes=info.num_classes,
                               channels=info.channels, image_size=info.image_size,
                               split=split, name=info.name)
        return data
    if synthetic_size is not None:
        raise DataError(
            f"synthetic_size only applies to the synthetic data sets, not {info.name}; "
            "use limit to load fewer samples"
        )
    directory = data_dir or spec.default_dir
    if directory is None:
        raise DataError(f"no directory given for {spec.title}. {spec.how_to_get}")
    root = Path(directory).expanduser()
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        raise DataError(f"{spec.title} directory {root} {what}. {spec.how_to_get}")
    images, labels = spec.read(spec, split, root, limit)
    return Split(
        images=_normalize(images, spec),
        labels=torch.from_numpy(labels.astype(np.int64)),
        name=info.name,
    )


# ----------------------------------------------------------------------------- batches


def num_batches(split: Split | int, batch_size: int, limit_batches: int | None = None) -> int:
    """How many batches ``iterate_batches`` yields for a split (or a sample count)."""
    _check_count("batch_size", batch_size, optional=False)
    _check_count("limit_batches", limit_batches)
    total = -(-(split if isinstance(split, int) else len(split)) // batch_size)
    return total if limit_batches is None else min(total, limit_batches)


def _crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Per image: zero-pad by AUGMENT_PADDING, crop H x W at ``offsets`` (row, col), mirror
    where ``flips``. Zero is the data set's mean colour, as images are normalized."""
    batch, channels, height, width = images.shape
    pad = AUGMENT_PADDING
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(height)  # B x H
    cols = offsets[:, 1:] + torch.arange(width)  # B x W
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    return padded[
        torch.arange(batch)[:, None, None, None],
        torch.arange(channels)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def iterate_batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    augment: bool = False,
    limit_batches: int | None = None,
    start_batch: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)`` batches of ``split`` (the last one may be smaller).

    All randomness (the shuffle permutation and, with ``augment``, every sample's crop
    offset and mirroring) is drawn from ``generator`` when this function is called, so a
    generator seeded per epoch gives the same epoch every time; ``start_batch`` skips the
    first batches of that same epoch (to resume). ``augment``: random crop of the image
    zero-padded by 4 pixels, plus a horizontal flip for data sets where mirroring keeps the
    class (not MNIST or the synthetic sets).
    """
    total = num_batches(split, batch_size, limit_batches)
    if not isinstance(start_batch, int) or start_batch < 0:
        raise DataError(f"start_batch must be a non-negative integer, got {start_batch!r}")
    count = len(split)
    order = torch.randperm(count, generator=generator) if shuffle else None
    if augment:
        spec = DATASETS.get(split.name)
        offsets = torch.randint(0, 2 * AUGMENT_PADDING + 1, (count, 2), generator=generator)
        flips = torch.rand(count, generator=generator) < 0.5
        if spec is not None and not spec.hflip:
            flips.zero_()

    def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in range(start_batch, total):
            start, stop = index * batch_size, min((index + 1) * batch_size, count)
            if order is None:
                images, labels = split.images[start:stop], split.labels[start:stop]
            else:
                chosen = order[start:stop]
                images, labels = split.images[chosen], split.labels[chosen]
            if augment:
                images = _crop_flip(images, offsets[start:stop], flips[start:stop])
            yield images, labels

    return batches()
