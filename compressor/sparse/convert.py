"""Swap pruned ``nn.Linear`` / ``nn.Conv2d`` modules for sparse-kernel ones.

:func:`convert` packs every pruned layer in each applicable format (see
:data:`~compressor.sparse.modules.FORMATS`), times the candidates and the dense
layer on a representative input, and keeps whichever is fastest, so a converted
model is never slower than the dense one (up to timing noise; a sparse format
must beat dense by :data:`MARGIN` to be chosen).

With ``dtype="int8"`` the Linear layers' candidates also include int8 weights
(:mod:`compressor.sparse.int8`): each sparse format as ``<format>+w8`` (int8 weights,
float32 activations) and ``<format>+q8`` (int8 weights, activations quantized per
tensor at run time, exact int32 sums), and ``dense+q8`` (:class:`DenseLinearInt8`,
``torch._int_mm``). Conv2d layers keep the float32 candidates.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..nn.scaling import fold_scaling_factors
from .fold import batchnorm_pairs, folded_conv
from .int8 import DenseLinearInt8, SparseLinearInt8
from .modules import FORMATS, SparseConv2d, SparseLinear, _conv_padding, _matrix, block_count, is_nm24

__all__ = ["DTYPES", "MARGIN", "LayerChoice", "convert", "replace_modules"]

#: Weight types convert can choose among: float32 only, or float32 and int8 (Linear).
DTYPES = ("float32", "int8")

#: A sparse format is chosen only when it takes less than (1 - MARGIN) of dense's time.
MARGIN = 0.05
# Block formats are candidates when at least this fraction of their stored weights is
# non-zero (an unstructured 90%-sparse weight fills 4x1 blocks to ~0.3).
_MIN_BLOCK_FILL = 0.5
# Timing inputs are capped: rows for Linear, pixels per image batch for Conv2d.
_MAX_ROWS = 256
_MIN_PIXELS = 4096
_DEFAULT_HW = (32, 32)


@dataclass
class LayerChoice:
    """What :func:`convert` did with one layer (``report=`` list entries)."""

    name: str
    kind: str                    # "Linear" or "Conv2d"
    sparsity: float              # fraction of exact zeros in the weight
    choice: str                  # "dense", a format name, or with int8 "<format>+w8" / "+q8"
    reason: str = ""             # why it stayed dense without timing, or "measured"/"heuristic"
    input_shape: tuple[int, ...] = ()
    times_ms: dict[str, float] = field(default_factory=dict)
    batchnorm: str = ""          # the BatchNorm folded into this (converted) layer, if any


def convert(model: nn.Module, *, min_sparsity: float = 0.5, measure: bool = True,
            example_inputs: Any = None, formats: Sequence[str] = FORMATS,
            fuse_relu: bool = False, fold_batchnorm: bool = True, inplace: bool = False,
            time_budget: float = 2.0, report: list[LayerChoice] | None = None,
            dtype: str = "float32") -> nn.Module:
    """Replace pruned ``nn.Linear`` / ``nn.Conv2d`` layers by :class:`SparseLinear` /
    :class:`SparseConv2d`, keeping the dense layer wherever it is faster.

    Args:
        model: a float32 CPU model whose pruned weights are zeros (masks applied).
        min_sparsity: layers with a smaller fraction of zero weights stay dense.
        measure: time dense and every applicable format per layer and keep the
            fastest (recommended); False picks by a heuristic (2:4 when the
            weight is 2:4, well-filled 4x1 / 1x4 blocks, CSR from 70% sparsity),
            which is not guaranteed to be faster.
        example_inputs: a tensor or a tuple of positional arguments of ``model``;
            one forward pass records each layer's input shape, on which the
            candidates are timed (batches capped at 256 rows for Linear and a few
            thousand pixels for Conv2d). Without it Linear layers are timed at
            batch 1 and Conv2d layers on one 32x32 image.
        formats: the formats to consider (subset of FORMATS).
        fuse_relu: fold an ``nn.ReLU`` that directly follows a converted layer in
            an ``nn.Sequential`` into the kernel (the ReLU becomes ``nn.Identity``).
        fold_batchnorm: fold each eval-mode ``nn.BatchNorm2d`` that is the only reader
            of a converted Conv2d's output into that conv (its bias; the BatchNorm
            becomes ``nn.Identity``), found by a ``torch.fx`` trace; see
            :mod:`compressor.sparse.fold`. The report names each folded BatchNorm.
        inplace: convert ``model`` itself instead of a deep copy.
        time_budget: seconds for all timing together (shared among the layers;
            each candidate is timed at least twice).
        report: if given, a :class:`LayerChoice` is appended per Linear / Conv2d layer.
        dtype: ``"float32"``, or ``"int8"`` to also time int8 variants of each Linear
            layer (module docstring): ``<format>+w8``, ``<format>+q8`` and ``dense+q8``;
            ``dense`` (float32) stays a candidate, so a layer is int8 only where that is
            faster. ``measure=False`` then takes the heuristic's format with ``+q8``.

    Returns:
        The converted model (``model`` itself when ``inplace``).

    Raises:
        ValueError: ``min_sparsity`` outside [0, 1], an unknown format or dtype, a
            negative time budget, or a model not on the CPU (the sparse kernels are
            CPU-only).
    """
    if dtype not in DTYPES:
        raise ValueError(f"convert: dtype must be one of {DTYPES}, got {dtype!r}")
    if not 0.0 <= min_sparsity <= 1.0:
        raise ValueError(f"convert: min_sparsity must be in [0, 1], got {min_sparsity}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or isinstance(formats, str):
        raise ValueError(f"convert: formats must be a sequence of {FORMATS}, got {formats!r}")
    if not time_budget >= 0:
        raise ValueError(f"convert: time_budget must be >= 0 seconds, got {time_budget}")
    off_cpu = next(((n, t.device) for n, t in model.state_dict().items() if t.device.type != "cpu"), None)
    if off_cpu is not None:
        raise ValueError(f"convert: the sparse layers run on the CPU only, but {off_cpu[0]} is on "
                         f"{off_cpu[1]}; move the model to the CPU first (model.cpu())")
    target = model if inplace else copy.deepcopy(model)
    fold_scaling_factors(target)  # a scaled layer's factors belong in the packed weight
    with torch.no_grad():
        layers = _layers(target)
        shapes = _record_shapes(target, layers, example_inputs) if measure else {}
        choices = [_screen(name, module, min_sparsity, dtype) for name, module in layers]
        pending = sum(1 for c in choices if not c.reason)
        deadline = time.perf_counter() + time_budget
        converted: dict[int, nn.Module] = {}
        for (_, module), choice in zip(layers, choices):
            if choice.reason:
                continue
            sparse_formats = formats if choice.sparsity >= min_sparsity else ()
            candidates = _candidates(module, sparse_formats, int8=dtype == "int8")
            if measure:
                left = max(0.0, deadline - time.perf_counter())
                shape = _timing_shape(module, shapes.get(id(module)))
                choice.input_shape = shape
                choice.times_ms = _time(module, candidates, shape, left / pending)
                pending -= 1
                choice.choice = _fastest(choice.times_ms)
                choice.reason = "measured"
            else:
                choice.choice = _heuristic(module, candidates, choice.sparsity)
                if dtype == "int8" and isinstance(module, nn.Linear):
                    choice.choice += "+q8"
                choice.reason = "heuristic"
            if choice.choice != "dense":
                converted[id(module)] = candidates[choice.choice]()
        if fold_batchnorm:
            _fold_batchnorms(target, layers, choices, converted)
        replace_modules(target, converted)
        if fuse_relu:
            _fuse_relu(target, set(converted.values()))
    if report is not None:
        report.extend(choices)
    return target


# ---- BatchNorm folding ---------------------------------------------------------------------

def _fold_batchnorms(model: nn.Module, layers: list[tuple[str, nn.Module]],
                     choices: list[LayerChoice], converted: dict[int, nn.Module]) -> None:
    """Rebuild each converted conv that a foldable BatchNorm follows from the folded
    weights (same format) and map that BatchNorm to ``nn.Identity`` in ``converted``."""
    convs = [(m, c) for (_, m), c in zip(layers, choices)
             if id(m) in converted and isinstance(m, nn.Conv2d)]
    found = batchnorm_pairs(model, [m for m, _ in convs])
    for module, choice in convs:
        if found.reason:
            choice.reason += f"; BatchNorm not folded: {found.reason}"
        if id(module) not in found.pairs:
            continue
        name, bn = found.pairs[id(module)]
        sparse = converted[id(module)]
        converted[id(module)] = SparseConv2d.from_dense(folded_conv(module, bn), format=sparse.format,
                                                        hwc=sparse.hwc)
        converted[id(bn)] = nn.Identity()
        choice.batchnorm = name


# ---- which layers, which formats ---------------------------------------------------------

def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (nn.Linear, nn.Conv2d))]


def _screen(name: str, module: nn.Module, min_sparsity: float, dtype: str = "float32"
            ) -> LayerChoice:
    """A LayerChoice, with a reason when the layer stays dense without timing (with int8,
    a Linear layer below min_sparsity is still timed against dense int8)."""
    w = module.weight
    kind = "Linear" if isinstance(module, nn.Linear) else "Conv2d"
    sparsity = float((w == 0).sum()) / w.numel() if w.numel() else 0.0
    choice = LayerChoice(name, kind, sparsity, "dense")
    if w.dtype != torch.float32 or w.device.type != "cpu":
        choice.reason = f"weight is {w.dtype} on {w.device} (kernels: float32 on the CPU)"
    elif w.numel() == 0 or (sparsity < min_sparsity and not (dtype == "int8" and kind == "Linear")):
        choice.reason = f"sparsity {sparsity:.2f} below min_sparsity {min_sparsity}"
    elif kind == "Conv2d":
        if module.groups != 1:
            choice.reason = f"groups={module.groups} (grouped convolutions stay dense)"
        else:
            try:
                _conv_padding(module)
            except ValueError as exc:
                choice.reason = str(exc).split(": ", 1)[-1]
    if not choice.reason and _matrix2d(module).shape[1] > 65536:
        choice.reason = "more than 65536 inputs (16-bit column indices)"
    return choice


def _matrix2d(module: nn.Module) -> torch.Tensor:
    w = module.weight.detach()
    return w if w.dim() == 2 else w.flatten(1)


def _candidates(module: nn.Module, formats: Sequence[str], int8: bool = False
                ) -> dict[str, Callable[[], nn.Module]]:
    """Builders of the sparse modules worth timing, by format ("dense" included); with
    ``int8`` (Linear only) also their int8 variants and the dense int8 layer."""
    build = SparseLinear.from_dense if isinstance(module, nn.Linear) else SparseConv2d.from_dense
    w = module.weight.detach()
    nnz = int((w != 0).sum())
    out: dict[str, Callable[[], nn.Module]] = {"dense": lambda: module}
    for fmt in formats:
        if fmt == "2:4":
            orders = [False] if w.dim() == 2 else [False, True]
            if not any(is_nm24(_matrix(w, o) if w.dim() == 4 else w) for o in orders):
                continue
        elif fmt in ("4x1", "1x4"):
            shape = (4, 1) if fmt == "4x1" else (1, 4)
            orders = [False] if w.dim() == 2 or fmt == "4x1" else [False, True]
            blocks = min(block_count(_matrix(w, o) if w.dim() == 4 else w, shape) for o in orders)
            if blocks and nnz / (4 * blocks) < _MIN_BLOCK_FILL:
                continue
        out[fmt] = _memo(lambda fmt=fmt: build(module, format=fmt))
    if int8 and isinstance(module, nn.Linear):
        for fmt in [f for f in out if f != "dense"]:
            for act, suffix in (("float", "w8"), ("int8", "q8")):
                out[f"{fmt}+{suffix}"] = _memo(lambda fmt=fmt, act=act: SparseLinearInt8.from_sparse(
                    out[fmt](), activations=act))
        out["dense+q8"] = _memo(lambda: DenseLinearInt8.from_dense(module))
    return out


def _memo(fn: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    made: list[nn.Module] = []

    def get() -> nn.Module:
        if not made:
            made.append(fn())
        return made[0]
    return get


def _heuristic(module: nn.Module, candidates: dict[str, Callable[[], nn.Module]],
               sparsity: float) -> str:
    """A float32 format (or "dense") from the weight's structure and sparsity."""
    if "2:4" in candidates:
        return "2:4"
    w = _matrix2d(module)
    nnz = int((w != 0).sum())
    for fmt, shape in (("4x1", (4, 1)), ("1x4", (1, 4))):
        if fmt in candidates and nnz >= 0.75 * 4 * block_count(w, shape):
            return fmt
    return "csr" if "csr" in candidates and sparsity >= 0.7 else "dense"


# ---- timing ------------------------------------------------------------------------------

def _record_shapes(model: nn.Module, layers: list[tuple[str, nn.Module]],
                   example_inputs: Any) -> dict[int, tuple[int, ...]]:
    if example_inputs is None:
        return {}
    shapes: dict[int, tuple[int, ...]] = {}

    def hook(module, args):
        if args and isinstance(args[0], torch.Tensor):
            shapes.setdefault(id(module), tuple(args[0].shape))

    handles = [m.register_forward_pre_hook(hook) for _, m in layers]
    try:
        args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
        model(*args)
    finally:
        for h in handles:
            h.remove()
    return shapes


def _timing_shape(module: nn.Module, seen: tuple[int, ...] | None) -> tuple[int, ...]:
    if isinstance(module, nn.Linear):
        if not seen:
            return (1, module.in_features)
        rows = math.prod(seen[:-1])
        return (min(rows, _MAX_ROWS), module.in_features) if rows > _MAX_ROWS else seen
    if not seen or len(seen) not in (3, 4):
        kh, kw = module.kernel_size
        dh, dw = module.dilation
        hw = (max(_DEFAULT_HW[0], dh * (kh - 1) + 1), max(_DEFAULT_HW[1], dw * (kw - 1) + 1))
        return (1, module.in_channels, *hw)
    if len(seen) == 3:
        return seen
    images = max(1, min(seen[0], -(-_MIN_PIXELS // (seen[2] * seen[3]))))
    return (images, *seen[1:])


def _time(module: nn.Module, candidates: dict[str, Callable[[], nn.Module]],
          shape: tuple[int, ...], budget: float) -> dict[str, float]:
    """Best-of-n milliseconds per candidate, interleaved (n >= 2, within ``budget``)."""
    x = torch.randn(shape)
    mods = {fmt: build() for fmt, build in candidates.items()}
    best: dict[str, float] = {}
    for rnd in range(64):
        start = time.perf_counter()
        for fmt, m in mods.items():
            t0 = time.perf_counter()
            m(x)
            dt = (time.perf_counter() - t0) * 1e3
            best[fmt] = min(best.get(fmt, math.inf), dt)
        spent = time.perf_counter() - start
        budget -= spent
        if rnd >= 1 and budget < spent:
            break
    return best


def _fastest(times_ms: dict[str, float]) -> str:
    fmt = min(times_ms, key=times_ms.get)
    if fmt != "dense" and times_ms[fmt] >= (1 - MARGIN) * times_ms["dense"]:
        return "dense"
    return fmt


# ---- module surgery ----------------------------------------------------------------------

def replace_modules(model: nn.Module, replacements: dict[int, nn.Module]) -> None:
    """Put ``replacements[id(m)]`` wherever submodule ``m`` of ``model`` sits (every
    reference: a shared module can sit under several parents)."""
    for parent in list(model.modules()):
        for attr, child in list(parent._modules.items()):
            if child is not None and id(child) in replacements:
                setattr(parent, attr, replacements[id(child)])


def _fuse_relu(model: nn.Module, converted: set[nn.Module]) -> None:
    parents: dict[int, int] = {}
    for parent in model.modules():
        for child in parent._modules.values():
            if child is not None:
                parents[id(child)] = parents.get(id(child), 0) + 1
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            first, second = seq._modules[a], seq._modules[b]
            if (first in converted and isinstance(second, nn.ReLU) and not first.relu
                    and parents[id(first)] == 1):
                first.relu = True
                seq._modules[b] = nn.Identity()
