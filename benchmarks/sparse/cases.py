"""Workloads of the sparse-kernel benchmarks: ours, torch dense and torch.sparse CSR.

Shared by ``test_bench_sparse.py`` (pytest-benchmark) and ``ratios.py`` (a
markdown table of speed-ups). A :class:`Spec` names a workload at full size; its
``scaled`` copy is what ``--benchmark-disable`` runs (same code paths, small sizes).
Every case's result is checked against ``F.linear`` / ``F.conv2d`` of the dense
masked weight.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from compressor.ops import sparse as sparse_ops
from compressor.sparse.modules import pack

LINEAR_SHAPES = ((4096, 4096), (1024, 4096))
SPARSITIES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
BATCHES = (1, 16, 64, 256)
FORMAT_BATCHES = (1, 64, 256)
# ResNet-18's 3x3 convolutions (out = in channels, stride 1, padding 1) and a 1x1
# downsampling convolution: (channels in, channels out, kernel, stride, padding, H = W).
RESNET18_CONVS = ((64, 64, 3, 1, 1, 56), (128, 128, 3, 1, 1, 28), (256, 256, 3, 1, 1, 14),
                  (512, 512, 3, 1, 1, 7), (128, 256, 1, 2, 0, 28))
CONV_SPARSITIES = (0.7, 0.9)
IMPLS = ("compressor", "torch dense", "torch CSR")
# The 2:4 / 4x1 / 1x4 workloads compare with dense and, for blocks, with our CSR on
# an unstructured weight of the same sparsity (timed in the same rounds).
BLOCK_FORMATS = ("4x1", "1x4")


def impls(spec: Spec) -> tuple[str, ...]:
    if spec.fmt == "csr":
        return IMPLS
    return ("compressor", "torch dense", "compressor CSR") if spec.fmt in BLOCK_FORMATS else (
        "compressor", "torch dense")


@dataclass(frozen=True)
class Spec:
    """One workload: a Linear (kernel None) or Conv2d layer at one sparsity and batch."""

    out: int
    inp: int
    sparsity: float
    batch: int
    fmt: str = "csr"                      # csr, 4x1, 1x4 or 2:4 (weights pruned to match)
    kernel: int | None = None             # Conv2d: square kernel, stride, padding, image size
    stride: int = 1
    padding: int = 0
    size: int = 0

    @property
    def group(self) -> str:
        fmt = "" if self.fmt == "csr" else f" {self.fmt}"
        sparsity = "" if self.fmt == "2:4" else f" {self.sparsity:.0%}"
        if self.kernel is None:
            return f"linear {self.out}x{self.inp}{fmt}{sparsity} batch {self.batch}"
        return (f"conv {self.inp}->{self.out} {self.kernel}x{self.kernel}/{self.stride} "
                f"{self.size}x{self.size}{fmt}{sparsity} batch {self.batch}")

    def scaled(self) -> Spec:
        """The small version run with --benchmark-disable."""
        if self.kernel is None:
            return replace(self, out=max(8, self.out // 16), inp=max(8, self.inp // 16),
                           batch=min(self.batch, 17))
        return replace(self, out=max(4, self.out // 16), inp=max(4, self.inp // 16),
                       size=max(self.kernel, self.size // 4))


def linear_specs() -> list[Spec]:
    specs = [Spec(o, i, s, b) for o, i in LINEAR_SHAPES for s in SPARSITIES for b in BATCHES]
    out, inp = LINEAR_SHAPES[0]
    specs += [Spec(out, inp, 0.5, b, "2:4") for b in FORMAT_BATCHES]
    specs += [Spec(out, inp, 0.9, b, f) for f in ("4x1", "1x4") for b in FORMAT_BATCHES]
    return specs


def conv_specs() -> list[Spec]:
    return [Spec(o, i, s, 1, "csr", k, st, p, hw)
            for i, o, k, st, p, hw in RESNET18_CONVS for s in CONV_SPARSITIES]


_BLOCKS = {"csr": (1, 1), "4x1": (4, 1), "1x4": (1, 4)}


@functools.lru_cache(maxsize=4)
def weight(spec: Spec) -> torch.Tensor:
    """The pruned weight [out, in * k * k]: random blocks of the format's shape zeroed,
    or 2:4 by magnitude."""
    gen = torch.Generator().manual_seed(0)
    cols = spec.inp * (spec.kernel or 1) ** 2
    w = torch.randn(spec.out, cols, generator=gen)
    if spec.fmt == "2:4":
        g = F.pad(w, (0, -cols % 4)).view(spec.out, -1, 4)
        g = g.scatter(-1, g.abs().argsort(-1)[..., :2], 0.0)
        return g.view(spec.out, -1)[:, :cols].contiguous()
    r, c = _BLOCKS[spec.fmt]
    rows, bcols = -(-spec.out // r), -(-cols // c)
    keep = torch.rand(rows, bcols, generator=gen) >= spec.sparsity
    return w * keep.repeat_interleave(r, 0).repeat_interleave(c, 1)[:spec.out, :cols]


def _csr(w: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return w.to_sparse_csr()


@dataclass
class Case:
    spec: Spec
    impl: str
    run: Callable[[], torch.Tensor]
    check: Callable[[torch.Tensor], None]


@functools.lru_cache(maxsize=4)
def _operands(spec: Spec) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    w = weight(spec)
    return w, pack(w, spec.fmt), _csr(w)


def cases(spec: Spec) -> dict[str, Case]:
    """ours / torch dense / torch CSR for one workload, by impl name."""
    w, packed, csr = _operands(replace(spec, batch=1))  # shared by the batch sizes
    gen = torch.Generator().manual_seed(1)
    if spec.kernel is None:
        x = torch.randn(spec.batch, spec.inp, generator=gen)

        def ours() -> torch.Tensor:
            if spec.fmt == "2:4":
                return sparse_ops.nm24_linear(x, packed["values"], packed["indices"], spec.inp)
            return sparse_ops.bsr_linear(x, packed["values"], packed["col_idx"], packed["row_ptr"],
                                      spec.out, spec.inp)

        runs = {"compressor": ours, "torch dense": lambda: F.linear(x, w),
                "torch CSR": lambda: (csr @ x.t()).t()}
        expected = F.linear(x, w)
    else:
        k, s, p = spec.kernel, spec.stride, spec.padding
        x = torch.randn(spec.batch, spec.inp, spec.size, spec.size, generator=gen)
        w4 = w.view(spec.out, spec.inp, k, k)
        shape = (spec.out, spec.inp, k, k)
        out_hw = (spec.size + 2 * p - k) // s + 1

        def torch_csr() -> torch.Tensor:  # im2col + CSR x dense, the best torch.sparse offers
            cols = F.unfold(x, k, padding=p, stride=s)
            return torch.stack([csr @ c for c in cols]).view(-1, spec.out, out_hw, out_hw)

        runs = {"compressor": lambda: sparse_ops.bsr_conv2d(x, packed["values"], packed["col_idx"],
                                                         packed["row_ptr"], shape, None, s, p),
                "torch dense": lambda: F.conv2d(x, w4, None, s, p), "torch CSR": torch_csr}
        expected = F.conv2d(x, w4, None, s, p)
    tol = 1e-5 * (w.shape[1] + 10)

    def check(result: torch.Tensor) -> None:
        torch.testing.assert_close(result, expected, rtol=1e-4, atol=tol)

    table = {impl: Case(spec, impl, run, check) for impl, run in runs.items()}
    if spec.fmt != "csr":
        del table["torch CSR"]
    if spec.fmt in BLOCK_FORMATS:
        table["compressor CSR"] = cases(replace(spec, fmt="csr"))["compressor"]
        table["compressor CSR"].impl = "compressor CSR"
    return table
