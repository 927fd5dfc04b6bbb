"""Typed wrappers of the sparse inference operators ``torch.ops.compressor.sparse_*``.

Schemas live in ``csrc/ops/sparse.cpp``, CPU kernels in ``csrc/ops/cpu/sparse_*``.
Each op has a fake (meta) implementation registered next to its wrapper, so the
ops trace under ``torch.compile`` and run on FakeTensors and meta tensors.

Packed formats of a 2-D float32 weight ``W[out, in]`` (tensors only, so they live
in a ``state_dict``):

* **block CSR** with block shape ``(R, C)`` in ``(1, 1)`` (plain CSR), ``(4, 1)``
  (4 outputs x 1 input) and ``(1, 4)`` (1 output x 4 inputs):
  ``values`` float32 ``[nblocks, R, C]``, ``col_idx`` int16 ``[nblocks]`` (block
  columns, read as uint16: ``ceil(in / C) <= 65536``), ``row_ptr`` int64
  ``[ceil(out / R) + 1]``. A block is stored when any of its entries is non-zero.
  6 bytes per stored weight for CSR, 4.5 for 4x1 and 1x4 blocks.
* **2:4** (at most 2 non-zeros in every 4 consecutive inputs of a row):
  ``values`` float32 ``[out, ceil(in / 4), 2]``, ``indices`` uint8
  ``[out, ceil(in / 4)]`` (bits 0-1 and 2-3: positions of the two values in their
  group). 4.5 bytes per stored weight.

**int8 weights** (``*_w8`` / ``*_q8`` ops): the same layouts with ``values`` int8
and ``scales`` float32 ``[out]`` (row ``m`` of ``W`` is ``scales[m] * values``):
3 bytes per stored CSR weight. ``*_w8`` multiply float32 ``x`` (weight-only int8);
``*_q8`` multiply quantized ``x`` (uint8 / int8 with a scale and zero point per
tensor or per row, from :func:`quantize_activations`) with exact int32 sums.

The compute ops are inference-only (no autograd formula) and take float32 CPU
tensors. Argument checks: the wrappers reject what never reaches a kernel
(non-tensors, sparse layouts, devices without a kernel, malformed tuples) with
``TypeError`` / ``ValueError``; the kernels reject wrong dtypes, shapes and
inconsistent packed tensors with ``RuntimeError``. Every message starts with
``compressor.<op>:`` and names the argument.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import check_int, check_ints, check_tensor

__all__ = [
    "BLOCK_SHAPES",
    "bsr_conv2d",
    "bsr_linear",
    "bsr_linear_q8",
    "bsr_linear_w8",
    "bsr_pack",
    "conv2d_output_shape",
    "nm24_conv2d",
    "nm24_linear",
    "nm24_linear_q8",
    "nm24_linear_w8",
    "nm24_pack",
    "quantize_activations",
]

_OPS = torch.ops.compressor

#: Block shapes of the block-CSR format.
BLOCK_SHAPES = ((1, 1), (4, 1), (1, 4))


def _check_tensors(op: str, bias: object, **tensors: object) -> None:
    """Each of ``tensors`` (and ``bias``, which may be None) is a dense tensor on a
    device with a kernel, all on one device."""
    checked = {name: check_tensor(op, name, t) for name, t in tensors.items()}
    checked["bias"] = check_tensor(op, "bias", bias, optional=True)
    devices = {name: t.device for name, t in checked.items() if t is not None}
    if len(set(devices.values())) > 1:
        listed = ", ".join(f"{name} on {d}" for name, d in devices.items())
        raise ValueError(f"compressor.{op}: all tensors must be on one device, got {listed}")


# ---- packing ----------------------------------------------------------------------------

def bsr_pack(weight: torch.Tensor, block_shape: tuple[int, int] = (1, 1)
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack a 2-D float32 weight ``[out, in]`` as block CSR ``(values, col_idx, row_ptr)``.

    ``block_shape`` ``(R, C)`` is one of :data:`BLOCK_SHAPES`; ``(1, 1)`` is CSR.
    A block is stored when any of its entries is non-zero (NaN counts as non-zero);
    the result does not depend on the number of threads.

    Raises:
        TypeError: ``weight`` is not a tensor or ``block_shape`` not two ints.
        RuntimeError: ``weight`` not float32 / not 2-D, an unsupported block shape,
            or ``ceil(in / C) > 65536``.
    """
    op = "sparse_bsr_pack"
    check_tensor(op, "weight", weight)
    r, c = check_ints(op, "block_shape", block_shape, 2)
    with torch.no_grad():
        return tuple(_OPS.sparse_bsr_pack(weight, r, c))


@torch.library.register_fake("compressor::sparse_bsr_pack")
def _bsr_pack_fake(weight, block_rows, block_cols):
    nblocks = torch.library.get_ctx().new_dynamic_size()
    rows = (weight.shape[0] + block_rows - 1) // block_rows
    return (weight.new_empty((nblocks, block_rows, block_cols)),
            weight.new_empty((nblocks,), dtype=torch.int16),
            weight.new_empty((rows + 1,), dtype=torch.int64))


def nm24_pack(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack a 2:4-sparse 2-D float32 weight ``[out, in]`` as ``(values, indices)``.

    Every group of 4 consecutive inputs of a row (the last group may be shorter)
    must hold at most 2 non-zeros.

    Raises:
        TypeError: ``weight`` is not a tensor.
        RuntimeError: ``weight`` not float32 / not 2-D, or not 2:4 sparse (the
            message names the first offending row and inputs).
    """
    op = "sparse_nm24_pack"
    check_tensor(op, "weight", weight)
    with torch.no_grad():
        return tuple(_OPS.sparse_nm24_pack(weight))


@torch.library.register_fake("compressor::sparse_nm24_pack")
def _nm24_pack_fake(weight):
    out, groups = weight.shape[0], (weight.shape[1] + 3) // 4
    return (weight.new_empty((out, groups, 2)),
            weight.new_empty((out, groups), dtype=torch.uint8))


# ---- Linear -----------------------------------------------------------------------------

def bsr_linear(x: torch.Tensor, values: torch.Tensor, col_idx: torch.Tensor,
               row_ptr: torch.Tensor, out_features: int, in_features: int,
               bias: torch.Tensor | None = None, relu: bool = False) -> torch.Tensor:
    """``x @ W.T + bias`` (then ReLU when ``relu``) for a block-CSR packed ``W``.

    ``x``: float32 ``[..., in_features]`` with any strides; the result is
    ``[..., out_features]``, contiguous. Batches of 1-2 rows stream the weight once
    (bandwidth-bound: bytes per stored weight decide the speed); larger batches do
    vector FMAs over the batch. Results do not depend on the number of threads.

    Raises:
        TypeError / ValueError: non-tensors, sparse layouts, unsupported devices,
            tensors on different devices.
        RuntimeError: wrong dtypes or shapes, or packed tensors that are not
            consistent (row_ptr not monotone or not ending at the number of
            blocks, a block column out of range, ...).
    """
    op = "sparse_bsr_linear"
    _check_tensors(op, bias, x=x, values=values, col_idx=col_idx, row_ptr=row_ptr)
    return _OPS.sparse_bsr_linear(x, values, col_idx, row_ptr, check_int(op, "out_features", out_features),
                                  check_int(op, "in_features", in_features), bias, bool(relu))


@torch.library.register_fake("compressor::sparse_bsr_linear")
def _bsr_linear_fake(x, values, col_idx, row_ptr, out_features, in_features, bias=None,
                     relu=False):
    return x.new_empty((*x.shape[:-1], out_features))


def nm24_linear(x: torch.Tensor, values: torch.Tensor, indices: torch.Tensor, in_features: int,
                bias: torch.Tensor | None = None, relu: bool = False) -> torch.Tensor:
    """``x @ W.T + bias`` (then ReLU when ``relu``) for a 2:4 packed ``W``.

    As :func:`bsr_linear`; ``out_features`` is ``values.shape[0]``.
    """
    op = "sparse_nm24_linear"
    _check_tensors(op, bias, x=x, values=values, indices=indices)
    return _OPS.sparse_nm24_linear(x, values, indices, check_int(op, "in_features", in_features), bias,
                                   bool(relu))


@torch.library.register_fake("compressor::sparse_nm24_linear")
def _nm24_linear_fake(x, values, indices, in_features, bias=None, relu=False):
    return x.new_empty((*x.shape[:-1], values.shape[0]))


# ---- Conv2d -----------------------------------------------------------------------------

def _conv_args(op: str, weight_shape, stride, padding, dilation):
    return (check_ints(op, "weight_shape", weight_shape, 4), check_ints(op, "stride", stride, 2),
            check_ints(op, "padding", padding, 2), check_ints(op, "dilation", dilation, 2))


def bsr_conv2d(x: torch.Tensor, values: torch.Tensor, col_idx: torch.Tensor,
               row_ptr: torch.Tensor, weight_shape: Sequence[int], bias: torch.Tensor | None = None,
               stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
               dilation: int | Sequence[int] = 1, hwc: bool = False,
               relu: bool = False) -> torch.Tensor:
    """``F.conv2d(x, W, bias, stride, padding, dilation)`` (groups=1, zero padding),
    then ReLU when ``relu``, for a weight ``W`` of shape ``weight_shape``
    ``[out, in, kh, kw]`` packed as block CSR from the 2-D matrix
    ``W.flatten(1)`` (columns ordered in, kh, kw) or, when ``hwc``,
    ``W.permute(0, 2, 3, 1).flatten(1)`` (columns ordered kh, kw, in).

    ``x``: float32 ``[batch, in, H, W]`` or ``[in, H, W]``, any strides. One image
    at a time: its im2col matrix (pixels contiguous) is the dense operand, and a
    1x1 convolution with stride 1 and no padding reads the image directly.

    Raises: as :func:`bsr_linear`; also for a kernel larger than the padded input.
    """
    op = "sparse_bsr_conv2d"
    _check_tensors(op, bias, x=x, values=values, col_idx=col_idx, row_ptr=row_ptr)
    shape, s, p, d = _conv_args(op, weight_shape, stride, padding, dilation)
    return _OPS.sparse_bsr_conv2d(x, values, col_idx, row_ptr, shape, bias, s, p, d, bool(hwc),
                                  bool(relu))


def nm24_conv2d(x: torch.Tensor, values: torch.Tensor, indices: torch.Tensor,
                weight_shape: Sequence[int], bias: torch.Tensor | None = None,
                stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                dilation: int | Sequence[int] = 1, hwc: bool = False,
                relu: bool = False) -> torch.Tensor:
    """:func:`bsr_conv2d` for a 2:4 packed weight (groups of 4 consecutive columns
    of the 2-D matrix, in the column order that ``hwc`` selects)."""
    op = "sparse_nm24_conv2d"
    _check_tensors(op, bias, x=x, values=values, indices=indices)
    shape, s, p, d = _conv_args(op, weight_shape, stride, padding, dilation)
    return _OPS.sparse_nm24_conv2d(x, values, indices, shape, bias, s, p, d, bool(hwc),
                                   bool(relu))


def conv2d_output_shape(x_shape: Sequence[int], weight_shape: Sequence[int],
                        stride: Sequence[int], padding: Sequence[int],
                        dilation: Sequence[int]) -> tuple[int, ...]:
    """Output shape of the sparse conv ops (as F.conv2d) for an input of ``x_shape``."""
    size = [(n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(x_shape[-2:], weight_shape[2:], stride, padding, dilation)]
    return (*x_shape[:-3], weight_shape[0], *size)


@torch.library.register_fake("compressor::sparse_bsr_conv2d")
def _bsr_conv2d_fake(x, values, col_idx, row_ptr, weight_shape, bias, stride, padding, dilation,
                     hwc=False, relu=False):
    return x.new_empty(conv2d_output_shape(x.shape, weight_shape, stride, padding, dilation))


@torch.library.register_fake("compressor::sparse_nm24_conv2d")
def _nm24_conv2d_fake(x, values, indices, weight_shape, bias, stride, padding, dilation,
                      hwc=False, relu=False):
    return x.new_empty(conv2d_output_shape(x.shape, weight_shape, stride, padding, dilation))


# ---- int8 weights -----------------------------------------------------------------------

def bsr_linear_w8(x: torch.Tensor, values: torch.Tensor, scales: torch.Tensor, col_idx: torch.Tensor,
                  row_ptr: torch.Tensor, out_features: int, in_features: int,
                  bias: torch.Tensor | None = None, relu: bool = False) -> torch.Tensor:
    """``x @ (scales[:, None] * W).T + bias`` (then ReLU) for a block-CSR ``W`` with int8
    ``values`` and float32 ``scales [out_features]`` (finite, >= 0): weight-only int8.

    ``x``: float32 ``[..., in_features]``; sums in float32 (agree with a float reference
    to float rounding). Batches of 1-2 rows stream the weight once (3 bytes per stored
    CSR weight); larger batches do vector FMAs over the batch.

    Raises: as :func:`bsr_linear`; also for scales of the wrong dtype, shape or value.
    """
    op = "sparse_bsr_linear_w8"
    _check_tensors(op, bias, x=x, values=values, scales=scales, col_idx=col_idx, row_ptr=row_ptr)
    return _OPS.sparse_bsr_linear_w8(x, values, scales, col_idx, row_ptr,
                                     check_int(op, "out_features", out_features),
                                     check_int(op, "in_features", in_features), bias, bool(relu))


@torch.library.register_fake("compressor::sparse_bsr_linear_w8")
def _bsr_linear_w8_fake(x, values, scales, col_idx, row_ptr, out_features, in_features, bias=None,
                        relu=False):
    return x.new_empty((*x.shape[:-1], out_features))


def nm24_linear_w8(x: torch.Tensor, values: torch.Tensor, indices: torch.Tensor, scales: torch.Tensor,
                   in_features: int, bias: torch.Tensor | None = None,
                   relu: bool = False) -> torch.Tensor:
    """:func:`bsr_linear_w8` for a 2:4 packed ``W`` (int8 ``values [out, ceil(in / 4), 2]``)."""
    op = "sparse_nm24_linear_w8"
    _check_tensors(op, bias, x=x, values=values, indices=indices, scales=scales)
    return _OPS.sparse_nm24_linear_w8(x, values, indices, scales,
                                      check_int(op, "in_features", in_features), bias, bool(relu))


@torch.library.register_fake("compressor::sparse_nm24_linear_w8")
def _nm24_linear_w8_fake(x, values, indices, scales, in_features, bias=None, relu=False):
    return x.new_empty((*x.shape[:-1], values.shape[0]))


def quantize_activations(x: torch.Tensor, per_row: bool = False, symmetric: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Quantize float32 ``x [..., K]`` to ``(xq, scale, zero_point)`` for the ``*_q8`` ops.

    One ``scale`` (float32) and ``zero_point`` (int32) for the whole tensor (shape
    ``[1]``) or, when ``per_row``, one per row of ``x`` (shape ``[prod(x.shape[:-1])]``).
    Asymmetric uint8 (default): ``lo = min(x.min(), 0)``, ``hi = max(x.max(), 0)``,
    ``scale = (hi - lo) / 255`` (1 when 0), ``zero_point = clamp(round(-lo / scale), 0,
    255)``, ``xq = clamp(round(x / scale) + zero_point, 0, 255)``. Symmetric int8:
    ``scale = max|x| / 127`` (1 when 0), ``zero_point = 0``, ``xq = clamp(round(x /
    scale), -127, 127)``. ``round`` halves to even, as ``torch.round``; each step is one
    float32 operation, so a PyTorch transcription gives identical results.

    Raises:
        RuntimeError: ``x`` not float32, 0-dim, or holding an inf or NaN.
    """
    op = "sparse_quantize_activations"
    check_tensor(op, "x", x)
    return tuple(_OPS.sparse_quantize_activations(x, bool(per_row), bool(symmetric)))


@torch.library.register_fake("compressor::sparse_quantize_activations")
def _quantize_activations_fake(x, per_row=False, symmetric=False):
    rows = 1
    for n in x.shape[:-1]:
        rows = rows * n
    groups = rows if per_row else 1
    return (x.new_empty(x.shape, dtype=torch.int8 if symmetric else torch.uint8),
            x.new_empty((groups,)), x.new_empty((groups,), dtype=torch.int32))


def bsr_linear_q8(xq: torch.Tensor, x_scale: torch.Tensor, x_zero_point: torch.Tensor,
                  values: torch.Tensor, scales: torch.Tensor, col_idx: torch.Tensor,
                  row_ptr: torch.Tensor, out_features: int, in_features: int,
                  bias: torch.Tensor | None = None, relu: bool = False) -> torch.Tensor:
    """int8 x int8 product of quantized ``xq`` and a block-CSR ``W`` with int8 ``values``.

    ``acc[n, m] = sum_k W[m, k] * (xq[n, k] - x_zero_point[n])`` exactly (int32 sums;
    ``in_features <= 65536``), then ``y = float(acc) * (x_scale[n] * scales[m])``
    ``(+ bias[m])``, then ReLU: bit-identical to those float32 operations in PyTorch.
    ``xq``: uint8 or int8 ``[..., in_features]``; ``x_scale`` (float32, finite, > 0) and
    ``x_zero_point`` (int32, in xq's range) with 1 entry or one per row of ``xq``.
    Uses AVX512_VNNI where the CPU has it (``compressor._C.cpu_int8_isa()``).

    Raises: as :func:`bsr_linear_w8`; also for a bad quantization of ``xq``.
    """
    op = "sparse_bsr_linear_q8"
    _check_tensors(op, bias, xq=xq, x_scale=x_scale, x_zero_point=x_zero_point, values=values,
                   scales=scales, col_idx=col_idx, row_ptr=row_ptr)
    return _OPS.sparse_bsr_linear_q8(xq, x_scale, x_zero_point, values, scales, col_idx, row_ptr,
                                     check_int(op, "out_features", out_features),
                                     check_int(op, "in_features", in_features), bias, bool(relu))


@torch.library.register_fake("compressor::sparse_bsr_linear_q8")
def _bsr_linear_q8_fake(xq, x_scale, x_zero_point, values, scales, col_idx, row_ptr, out_features,
                        in_features, bias=None, relu=False):
    return xq.new_empty((*xq.shape[:-1], out_features), dtype=torch.float32)


def nm24_linear_q8(xq: torch.Tensor, x_scale: torch.Tensor, x_zero_point: torch.Tensor,
                   values: torch.Tensor, indices: torch.Tensor, scales: torch.Tensor,
                   in_features: int, bias: torch.Tensor | None = None,
                   relu: bool = False) -> torch.Tensor:
    """:func:`bsr_linear_q8` for a 2:4 packed ``W``."""
    op = "sparse_nm24_linear_q8"
    _check_tensors(op, bias, xq=xq, x_scale=x_scale, x_zero_point=x_zero_point, values=values,
                   indices=indices, scales=scales)
    return _OPS.sparse_nm24_linear_q8(xq, x_scale, x_zero_point, values, indices, scales,
                                      check_int(op, "in_features", in_features), bias, bool(relu))


@torch.library.register_fake("compressor::sparse_nm24_linear_q8")
def _nm24_linear_q8_fake(xq, x_scale, x_zero_point, values, indices, scales, in_features, bias=None,
                         relu=False):
    return xq.new_empty((*xq.shape[:-1], values.shape[0]), dtype=torch.float32)
