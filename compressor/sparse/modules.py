"""Inference-only ``nn.Module`` s that hold a pruned weight in a packed sparse format.

:class:`SparseLinear` and :class:`SparseConv2d` keep the packed weight as buffers
(tensors only), so ``state_dict`` / ``load_state_dict`` round-trip them with
``torch.save`` / ``torch.load(weights_only=True)``; loading a state dict with
another number of stored weights resizes the buffers. The format is a
constructor argument (``format=``), one of :data:`FORMATS`:

=========  =================================================================
``csr``    unstructured: one float32 value + one 16-bit column per non-zero
``4x1``    blocks of 4 outputs x 1 input (for weights pruned in such blocks)
``1x4``    blocks of 1 output x 4 consecutive inputs
``2:4``    at most 2 non-zeros in every 4 consecutive inputs (N:M 2:4)
=========  =================================================================

Outputs equal ``F.linear`` / ``F.conv2d`` of the dense (masked) weight up to
float rounding (the sums run in another order). No autograd: use under
``torch.no_grad()`` / ``torch.inference_mode()``. CPU only: the kernels are C++ CPU
kernels, and an input on another device is refused with a message saying so
(:func:`check_cpu_input`; the meta device passes, for shape propagation).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..ops import bsr_pack, nm24_pack

_OPS = torch.ops.compressor

__all__ = ["FORMATS", "SparseConv2d", "SparseLinear"]

#: Packed formats, by name.
FORMATS = ("csr", "4x1", "1x4", "2:4")
_BLOCK_SHAPES = {"csr": (1, 1), "4x1": (4, 1), "1x4": (1, 4)}
_BSR_BUFFERS = ("values", "col_idx", "row_ptr")
_NM24_BUFFERS = ("values", "indices")


def check_cpu_input(layer: str, x: torch.Tensor | torch.device) -> None:
    """Refuse an input (or a device) that is neither on the CPU nor on the meta device."""
    device = x if isinstance(x, torch.device) else x.device
    if device.type not in ("cpu", "meta"):
        raise ValueError(f"{layer} runs on the CPU only (the sparse kernels are C++ CPU kernels); "
                         f"x is on {device}. Run the sparse model on the CPU, or keep the dense "
                         "(masked or thinned) model on the GPU")


def _check_format(format: str) -> str:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {format!r}")
    return format


def _check_dense_weight(cls: str, w: torch.Tensor) -> None:
    if w.dtype != torch.float32:
        raise ValueError(f"{cls}.from_dense: the weight must be torch.float32, got {w.dtype}")
    if w.device.type != "cpu":
        raise ValueError(f"{cls}.from_dense: the weight must be on the CPU (the sparse kernels "
                         f"are CPU-only), got {w.device}")


def pack(weight2d: torch.Tensor, format: str) -> dict[str, torch.Tensor]:
    """The packed buffers of a 2-D float32 weight in ``format`` (see :data:`FORMATS`)."""
    _check_format(format)
    if format == "2:4":
        return dict(zip(_NM24_BUFFERS, nm24_pack(weight2d)))
    return dict(zip(_BSR_BUFFERS, bsr_pack(weight2d, _BLOCK_SHAPES[format])))


def unpack(buffers: dict[str, torch.Tensor], format: str, shape: tuple[int, int]) -> torch.Tensor:
    """The dense 2-D weight ``[out, in]`` of packed ``buffers`` (pure PyTorch)."""
    out, inp = shape
    values = buffers["values"]
    if format == "2:4":
        groups = values.shape[1]
        dense = values.new_zeros((out, groups, 4))
        idx = buffers["indices"].long()
        dense.scatter_add_(2, (idx & 3).unsqueeze(-1), values[..., :1])
        dense.scatter_add_(2, (idx >> 2 & 3).unsqueeze(-1), values[..., 1:])
        return dense.view(out, groups * 4)[:, :inp].clone()
    r, c = _BLOCK_SHAPES[format]
    block_rows, block_cols = (out + r - 1) // r, (inp + c - 1) // c
    dense = values.new_zeros((block_rows, r, block_cols, c))
    rows = torch.repeat_interleave(torch.arange(block_rows), buffers["row_ptr"].diff())
    cols = buffers["col_idx"].long() & 0xFFFF
    dense[rows, :, cols, :] = values
    return dense.view(block_rows * r, block_cols * c)[:out, :inp].clone()


class _SparseModule(nn.Module):
    """Packed-weight buffers of one format and the state-dict handling they need."""

    format: str
    relu: bool

    def _set_weight(self, weight2d: torch.Tensor, format: str) -> None:
        self.format = _check_format(format)
        for name in set(_BSR_BUFFERS) | set(_NM24_BUFFERS):
            self._buffers.pop(name, None)
        for name, t in pack(weight2d.detach(), format).items():
            self.register_buffer(name, t)

    def _buffer_names(self) -> tuple[str, ...]:
        return _NM24_BUFFERS if self.format == "2:4" else _BSR_BUFFERS

    def _weight_shape2d(self) -> tuple[int, int]:
        raise NotImplementedError

    def packed(self) -> dict[str, torch.Tensor]:
        """The packed weight tensors, by name."""
        return {name: self._buffers[name] for name in self._buffer_names()}

    @property
    def nnz(self) -> int:
        """Stored weights (non-zeros, plus the zeros inside stored blocks / 2:4 slots)."""
        return self._buffers["values"].numel()

    def dense_weight(self) -> torch.Tensor:
        """The dense weight (the masked weight this module was built from)."""
        return unpack(self.packed(), self.format, self._weight_shape2d())

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, local_metadata,
                              strict, missing_keys, unexpected_keys, error_msgs) -> None:
        # Packed buffers change size with the number of stored weights: take the
        # incoming shapes (checked for the format) before the default copy.
        for name in self._buffer_names():
            incoming = state_dict.get(prefix + name)
            if not isinstance(incoming, torch.Tensor):
                continue
            mine = self._buffers[name]
            if incoming.dtype != mine.dtype or incoming.dim() != mine.dim() or (
                    name != "col_idx" and incoming.shape[1:] != mine.shape[1:]):
                error_msgs.append(
                    f"{prefix}{name}: a {self.format} packed weight of this module needs "
                    f"{mine.dtype} {list(mine.shape[1:])} per entry, the state dict has "
                    f"{incoming.dtype} of shape {list(incoming.shape)}")
                continue
            self._buffers[name] = torch.empty_like(incoming, device=mine.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def _sparse_repr(self) -> str:
        total = math.prod(self._weight_shape2d())
        density = self.nnz / total if total else 0.0
        return (f"format={self.format!r}, stored={self.nnz} ({density:.1%})"
                + (", relu=True" if self.relu else ""))


class SparseLinear(_SparseModule):
    """``nn.Linear`` with a packed sparse weight; inference only.

    ``forward(x)`` is ``F.linear(x, W, bias)`` (then ReLU when ``relu``) for float32
    ``x [..., in_features]``. Build one with :meth:`from_dense`; the constructor
    makes an all-zero weight of the given format (e.g. to ``load_state_dict`` into).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 format: str = "csr", relu: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features, self.relu = in_features, out_features, bool(relu)
        self._set_weight(torch.zeros(out_features, in_features), format)
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_dense(cls, module: nn.Linear, *, format: str = "csr",
                   relu: bool = False) -> SparseLinear:
        """Pack ``module.weight`` (zeros are pruned weights) in ``format``."""
        if not isinstance(module, nn.Linear):
            raise TypeError(f"SparseLinear.from_dense: expected an nn.Linear, "
                            f"got {type(module).__name__}")
        w = module.weight.detach()
        _check_dense_weight("SparseLinear", w)
        sparse = cls.__new__(cls)
        nn.Module.__init__(sparse)
        sparse.in_features, sparse.out_features, sparse.relu = w.shape[1], w.shape[0], bool(relu)
        sparse._set_weight(w, format)
        bias = module.bias
        sparse.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        return sparse

    def _weight_shape2d(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The ops directly: the kernels check x, and the buffers come from the pack ops.
        check_cpu_input("SparseLinear", x)
        if self.format == "2:4":
            return _OPS.sparse_nm24_linear(x, self.values, self.indices, self.in_features,
                                           self.bias, self.relu)
        return _OPS.sparse_bsr_linear(x, self.values, self.col_idx, self.row_ptr,
                                      self.out_features, self.in_features, self.bias, self.relu)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, {self._sparse_repr()}")


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    """Numeric symmetric zero padding of ``conv``, or ValueError."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"SparseConv2d.from_dense: only padding_mode='zeros' is supported, "
                         f"got {conv.padding_mode!r}")
    if conv.padding == "valid":
        return (0, 0)
    if conv.padding == "same":
        total = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size)]
        if any(t % 2 for t in total):
            raise ValueError("SparseConv2d.from_dense: padding='same' with an even dilated "
                             "kernel pads asymmetrically, which the sparse kernel does not do")
        return (total[0] // 2, total[1] // 2)
    return _pair(conv.padding)


class SparseConv2d(_SparseModule):
    """``nn.Conv2d`` (groups=1, zero padding) with a packed sparse weight; inference only.

    The weight ``[out, in, kh, kw]`` is packed as the 2-D matrix ``W.flatten(1)``
    (columns ordered in, kh, kw) or, with ``hwc=True``, ``W.permute(0, 2, 3,
    1).flatten(1)`` (kh, kw, in): 2:4 and 1x4 blocks group 4 consecutive columns
    of that matrix. ``forward(x)`` is ``F.conv2d`` (then ReLU when ``relu``) for
    float32 ``x [batch, in, H, W]`` or ``[in, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, bias: bool = True, *,
                 format: str = "csr", hwc: bool = False, relu: bool = False) -> None:
        super().__init__()
        self._init_geometry(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                            _pair(padding), _pair(dilation), hwc, relu)
        self._set_weight(torch.zeros(out_channels, in_channels * math.prod(self.kernel_size)),
                         format)
        self.register_buffer("bias", torch.zeros(out_channels) if bias else None)

    def _init_geometry(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                       hwc, relu) -> None:
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation = padding, dilation
        self.hwc, self.relu = bool(hwc), bool(relu)

    @classmethod
    def from_dense(cls, module: nn.Conv2d, *, format: str = "csr", hwc: bool | None = None,
                   relu: bool = False) -> SparseConv2d:
        """Pack ``module.weight`` (zeros are pruned weights) in ``format``.

        ``hwc=None`` picks the column order: for ``2:4`` the one in which the weight
        is 2:4 sparse (in, kh, kw first), for ``1x4`` the one with fewer blocks,
        else (in, kh, kw).

        Raises:
            ValueError: groups != 1, a padding mode other than zeros, asymmetric
                'same' padding, a weight that is not float32 on the CPU, or (2:4)
                a weight that is 2:4 sparse in neither column order.
        """
        if not isinstance(module, nn.Conv2d):
            raise TypeError(f"SparseConv2d.from_dense: expected an nn.Conv2d, "
                            f"got {type(module).__name__}")
        if module.groups != 1:
            raise ValueError(f"SparseConv2d.from_dense: only groups=1 is supported, "
                             f"got groups={module.groups} (keep grouped convolutions dense)")
        padding = _conv_padding(module)
        w = module.weight.detach()
        _check_dense_weight("SparseConv2d", w)
        _check_format(format)
        if hwc is None:
            hwc = _pick_column_order(w, format)
        sparse = cls.__new__(cls)
        nn.Module.__init__(sparse)
        sparse._init_geometry(w.shape[1], w.shape[0], tuple(w.shape[2:]), _pair(module.stride),
                              padding, _pair(module.dilation), hwc, relu)
        sparse._set_weight(_matrix(w, hwc), format)
        bias = module.bias
        sparse.register_buffer("bias", None if bias is None else bias.detach().float().clone())
        return sparse

    def _weight_shape2d(self) -> tuple[int, int]:
        return (self.out_channels, self.in_channels * math.prod(self.kernel_size))

    def dense_weight(self) -> torch.Tensor:
        """The dense 4-D weight ``[out, in, kh, kw]``."""
        w2 = super().dense_weight()
        kh, kw = self.kernel_size
        if self.hwc:
            return w2.view(self.out_channels, kh, kw, self.in_channels).permute(0, 3, 1, 2)
        return w2.view(self.out_channels, self.in_channels, kh, kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [self.out_channels, self.in_channels, *self.kernel_size]
        conv = (list(self.stride), list(self.padding), list(self.dilation), self.hwc, self.relu)
        check_cpu_input("SparseConv2d", x)
        if self.format == "2:4":
            return _OPS.sparse_nm24_conv2d(x, self.values, self.indices, shape, self.bias, *conv)
        return _OPS.sparse_bsr_conv2d(x, self.values, self.col_idx, self.row_ptr, shape, self.bias,
                                      *conv)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}, hwc={self.hwc}, {self._sparse_repr()}")


def _matrix(w: torch.Tensor, hwc: bool) -> torch.Tensor:
    return w.permute(0, 2, 3, 1).flatten(1) if hwc else w.flatten(1)


def is_nm24(w2d: torch.Tensor) -> bool:
    """Whether every 4 consecutive columns of the 2-D ``w2d`` hold at most 2 non-zeros."""
    out, inp = w2d.shape
    padded = torch.nn.functional.pad(w2d != 0, (0, -inp % 4))
    return bool((padded.view(out, -1, 4).sum(-1) <= 2).all())


def block_count(w2d: torch.Tensor, block_shape: tuple[int, int]) -> int:
    """Blocks of ``block_shape`` that hold a non-zero of the 2-D ``w2d``."""
    r, c = block_shape
    out, inp = w2d.shape
    nz = torch.nn.functional.pad(w2d != 0, (0, -inp % c, 0, -out % r))
    return int(nz.view(nz.shape[0] // r, r, nz.shape[1] // c, c).any(3).any(1).sum())


def _pick_column_order(w: torch.Tensor, format: str) -> bool:
    if format == "2:4":
        if is_nm24(_matrix(w, False)):
            return False
        if is_nm24(_matrix(w, True)):
            return True
        raise ValueError("SparseConv2d.from_dense: the weight is not 2:4 sparse in either "
                         "column order ((in, kh, kw) or (kh, kw, in))")
    if format == "1x4":
        return block_count(_matrix(w, True), (1, 4)) < block_count(_matrix(w, False), (1, 4))
    return False
