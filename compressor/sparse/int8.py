"""int8 sparse and dense layers: weights with int8 values and a float32 scale per output row.

* :func:`quantize_packed` / :func:`dequantize_packed`: symmetric per-output-channel
  quantization of packed float32 buffers (any of :data:`~compressor.sparse.modules.FORMATS`)
  and its inverse. ``scale[m] = max|w| / 127`` over row ``m``'s stored values,
  ``q = clamp(round(w / scale[m]), -127, 127)`` (round half to even); an all-zero row
  has scale 0 and values 0. Quantized values that round to 0 stay stored, so the
  index tensors are those of the float packing.
* :class:`SparseLinearInt8`: ``nn.Linear`` with such a packed weight. ``activations``
  picks the arithmetic: ``"float"`` (weight-only int8: float32 x, the kernel widens the
  int8 values in registers, float32 sums) or ``"int8"`` (x quantized at run time to
  uint8 per tensor, or per row with ``per_row=True``; int8 x int8 with exact int32 sums,
  AVX512_VNNI where the CPU has it; see :func:`compressor.ops.sparse.bsr_linear_q8`).
* :class:`DenseLinearInt8`: the dense int8 reference layer (``torch._int_mm`` on the
  same quantization of x, the weight's row sums precomputed for the zero point).

State dicts hold plain tensors (int8 values, index tensors, float32 scales, bias) and
load with ``torch.load(weights_only=True)``. Inference only.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops import quantize_activations
from .modules import SparseLinear, _check_dense_weight, _check_format, _SparseModule, unpack

_OPS = torch.ops.compressor

__all__ = ["ACTIVATIONS", "DenseLinearInt8", "SparseLinearInt8", "dequantize_packed",
           "quantize_packed"]

#: Arithmetic of the int8 layers: float32 activations (weight-only) or int8 activations.
ACTIVATIONS = ("float", "int8")
_BLOCK_ROWS = {"csr": 1, "4x1": 4, "1x4": 1}


def _value_rows(buffers: dict[str, torch.Tensor], format: str, out: int) -> torch.Tensor:
    """The output row of every entry of ``buffers["values"]`` (rows past ``out`` in the
    last 4x1 block row included), as an int64 tensor of the same shape."""
    values = buffers["values"]
    if format == "2:4":
        return torch.arange(out).view(-1, 1, 1).expand(values.shape)
    r = _BLOCK_ROWS[format]
    block_rows = torch.repeat_interleave(torch.arange(buffers["row_ptr"].numel() - 1),
                                         buffers["row_ptr"].diff())
    rows = block_rows.view(-1, 1, 1) * r + torch.arange(r).view(1, r, 1)
    return rows.expand(values.shape)


def quantize_packed(buffers: dict[str, torch.Tensor], format: str, shape: tuple[int, int]
                    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """int8 buffers (same index tensors, int8 ``values``) and float32 ``scales [out]`` of
    float32 packed ``buffers`` of a weight of ``shape`` ``(out, in)``.

    Raises:
        ValueError: the weight holds an inf or NaN.
    """
    _check_format(format)
    values = buffers["values"]
    if not torch.isfinite(values).all():
        raise ValueError("quantize_packed: the weight holds an inf or NaN, which has no int8 value")
    q, scales = _quantize(values, _value_rows(buffers, format, shape[0]), shape[0])
    quantized = dict(buffers)
    quantized["values"] = q
    return quantized, scales


def _quantize(values: torch.Tensor, rows: torch.Tensor, out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 values and per-row scales; ``rows[i]`` is the output row of ``values[i]``."""
    padded = out + 3  # rows of the last 4x1 block row past out hold zeros
    amax = values.new_zeros(padded).scatter_reduce(0, rows.flatten(), values.abs().flatten(), "amax")
    scales = amax / 127
    safe = torch.where(scales > 0, scales, torch.ones_like(scales))
    q = torch.round(values / safe[rows]).clamp(-127, 127).to(torch.int8)
    return q, scales[:out].contiguous()


def dequantize_packed(buffers: dict[str, torch.Tensor], scales: torch.Tensor, format: str,
                      shape: tuple[int, int]) -> dict[str, torch.Tensor]:
    """Float32 packed buffers (``values * scales[row]``) of int8 ``buffers``: the exact
    float weight that the int8 layers multiply by."""
    _check_format(format)
    rows = _value_rows(buffers, format, shape[0])
    padded = torch.cat([scales, scales.new_zeros(3)])
    floats = dict(buffers)
    floats["values"] = buffers["values"].float() * padded[rows]
    return floats


def _check_activations(activations: str) -> str:
    if activations not in ACTIVATIONS:
        raise ValueError(f"activations must be one of {', '.join(map(repr, ACTIVATIONS))}, "
                         f"got {activations!r}")
    return activations


class SparseLinearInt8(_SparseModule):
    """``nn.Linear`` with a packed int8 sparse weight and per-output-row scales; inference only.

    ``forward(x)`` is ``F.linear(x, scales[:, None] * W, bias)`` (then ReLU when
    ``relu``) for float32 ``x [..., in_features]``, computed in the arithmetic that
    ``activations`` names (module docstring). Build one with :meth:`from_dense` or
    :meth:`from_sparse`; the constructor makes an all-zero weight (to load a state dict into).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 format: str = "csr", activations: str = "int8", per_row: bool = False,
                 relu: bool = False) -> None:
        super().__init__()
        self._init(in_features, out_features, activations, per_row, relu)
        self._set_weight(torch.zeros(out_features, in_features), format)
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    def _init(self, in_features, out_features, activations, per_row, relu) -> None:
        self.in_features, self.out_features = in_features, out_features
        self.activations = _check_activations(activations)
        self.per_row, self.relu = bool(per_row), bool(relu)

    def _set_weight(self, weight2d: torch.Tensor, format: str) -> None:
        super()._set_weight(weight2d, format)
        self._quantize_buffers()

    def _quantize_buffers(self) -> None:
        buffers, scales = quantize_packed(self.packed(), self.format, self._weight_shape2d())
        for name, t in buffers.items():
            self.register_buffer(name, t)
        self.register_buffer("scales", scales)

    @classmethod
    def from_dense(cls, module: nn.Linear, *, format: str = "csr", activations: str = "int8",
                   per_row: bool = False, relu: bool = False) -> SparseLinearInt8:
        """Pack ``module.weight`` (zeros are pruned weights) in ``format`` and quantize it."""
        if not isinstance(module, nn.Linear):
            raise TypeError(f"SparseLinearInt8.from_dense: expected an nn.Linear, "
                            f"got {type(module).__name__}")
        return cls.from_sparse(SparseLinear.from_dense(module, format=format), activations=activations,
                               per_row=per_row, relu=relu)

    @classmethod
    def from_sparse(cls, module: SparseLinear, *, activations: str = "int8", per_row: bool = False,
                    relu: bool | None = None) -> SparseLinearInt8:
        """Quantize the packed weight of a :class:`SparseLinear` (same format and indices);
        ``relu=None`` keeps its ReLU flag."""
        if not isinstance(module, SparseLinear):
            raise TypeError(f"SparseLinearInt8.from_sparse: expected a SparseLinear, "
                            f"got {type(module).__name__}")
        q = cls.__new__(cls)
        nn.Module.__init__(q)
        q._init(module.in_features, module.out_features, activations, per_row,
                module.relu if relu is None else relu)
        q.format = module.format
        for name, t in module.packed().items():
            q.register_buffer(name, t.clone())
        q._quantize_buffers()
        bias = module.bias
        q.register_buffer("bias", None if bias is None else bias.clone())
        return q

    def _weight_shape2d(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)

    def dense_weight(self) -> torch.Tensor:
        """The dequantized dense weight ``scales[:, None] * W`` (what forward multiplies by)."""
        floats = dequantize_packed(self.packed(), self.scales, self.format, self._weight_shape2d())
        return unpack(floats, self.format, self._weight_shape2d())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nm24 = self.format == "2:4"
        if self.activations == "float":
            if nm24:
                return _OPS.sparse_nm24_linear_w8(x, self.values, self.indices, self.scales,
                                                  self.in_features, self.bias, self.relu)
            return _OPS.sparse_bsr_linear_w8(x, self.values, self.scales, self.col_idx, self.row_ptr,
                                             self.out_features, self.in_features, self.bias, self.relu)
        xq, xs, xz = _OPS.sparse_quantize_activations(x, self.per_row, False)
        if nm24:
            return _OPS.sparse_nm24_linear_q8(xq, xs, xz, self.values, self.indices, self.scales,
                                              self.in_features, self.bias, self.relu)
        return _OPS.sparse_bsr_linear_q8(xq, xs, xz, self.values, self.scales, self.col_idx,
                                         self.row_ptr, self.out_features, self.in_features, self.bias,
                                         self.relu)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, activations={self.activations!r}"
                + (", per_row=True" if self.per_row else "") + f", {self._sparse_repr()}")


class DenseLinearInt8(nn.Module):
    """A dense ``nn.Linear`` in int8 x int8: the weight quantized as :func:`quantize_packed`
    does (per output row), x quantized at run time as :class:`SparseLinearInt8` does,
    products by ``torch._int_mm`` (int32), the zero point taken off with the weight's row
    sums (precomputed), then ``float(acc) * (x_scale * scales) + bias``. The reference
    that the sparse int8 layers are measured against; inference only."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 per_row: bool = False, relu: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features, self.per_row = in_features, out_features, bool(per_row)
        self.relu = bool(relu)
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scales", torch.zeros(out_features))
        self.register_buffer("row_sums", torch.zeros(out_features, dtype=torch.int32))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_dense(cls, module: nn.Linear, *, per_row: bool = False) -> DenseLinearInt8:
        if not isinstance(module, nn.Linear):
            raise TypeError(f"DenseLinearInt8.from_dense: expected an nn.Linear, "
                            f"got {type(module).__name__}")
        w = module.weight.detach()
        _check_dense_weight("DenseLinearInt8", w)
        layer = cls(w.shape[1], w.shape[0], module.bias is not None, per_row=per_row)
        if not torch.isfinite(w).all():
            raise ValueError("DenseLinearInt8.from_dense: the weight holds an inf or NaN")
        q, scales = _quantize(w, torch.arange(w.shape[0]).view(-1, 1).expand(w.shape), w.shape[0])
        layer.weight.copy_(q)
        layer.scales.copy_(scales)
        layer.row_sums.copy_(q.sum(1, dtype=torch.int32))
        if module.bias is not None:
            layer.bias.copy_(module.bias.detach())
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0:
            return x.new_empty(*x.shape[:-1], self.out_features)
        xq, xs, xz = quantize_activations(x, self.per_row)
        x2 = (xq.reshape(-1, self.in_features) ^ 128).view(torch.int8)  # xq - 128
        acc = torch._int_mm(x2, self.weight.t()) - (xz - 128).view(-1, 1) * self.row_sums
        y = acc.float() * (xs.view(-1, 1) * self.scales)
        if self.bias is not None:
            y = y + self.bias
        if self.relu:
            y = torch.relu(y)
        return y.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}" + (", per_row=True" if self.per_row else "")
                + (", relu=True" if self.relu else ""))

