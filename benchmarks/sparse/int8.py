"""Sparse int8 Linear against our sparse float32 CSR, dense float32 and dense int8, as markdown.

    python -m benchmarks.sparse.int8                        # 4096x4096 at 90%, 1 thread
    python -m benchmarks.sparse.int8 --threads 2 --repeats 3 --batches 1 32

Impls (one pruned weight, unstructured, packed as CSR):

* ``int8 q8``: :class:`SparseLinearInt8` with int8 activations (per-tensor uint8 quantization
  of x at run time included, exact int32 sums);
* ``int8 w8``: :class:`SparseLinearInt8`, weight-only (float32 x);
* ``fp32 CSR``: :class:`SparseLinear` (our float32 kernel);
* ``dense fp32``: ``F.linear`` (MKL);
* ``dense int8``: :class:`DenseLinearInt8` (the same quantization of x, ``torch._int_mm``
  with the weight's row sums precomputed).

Rounds are interleaved (every impl once per round, so drifting load hits all alike); each
cell is the median of the rounds, and each repeat of the whole measurement gives one
ratio, so ``--repeats`` yields ranges. Every result is checked first: ``int8 q8`` equals
``dense int8`` bit for bit (the same quantized arithmetic), the others match ``F.linear``.
The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

import compressor._C
from compressor.sparse import DenseLinearInt8, SparseLinear, SparseLinearInt8

from .cases import Spec, weight

IMPLS = ("int8 q8", "int8 w8", "fp32 CSR", "dense fp32", "dense int8")
BATCHES = (1, 32, 64, 256)


def layers(out: int, inp: int, sparsity: float) -> tuple[nn.Linear, dict[str, nn.Module]]:
    """The pruned float32 layer and its int8 / sparse variants."""
    dense = nn.Linear(inp, out, bias=False)
    with torch.no_grad():
        dense.weight.copy_(weight(Spec(out, inp, sparsity, 1)))
    return dense, {
        "int8 q8": SparseLinearInt8.from_dense(dense, activations="int8"),
        "int8 w8": SparseLinearInt8.from_dense(dense, activations="float"),
        "fp32 CSR": SparseLinear.from_dense(dense),
        "dense fp32": dense,
        "dense int8": DenseLinearInt8.from_dense(dense),
    }


def runs(mods: dict[str, nn.Module], batch: int, inp: int) -> dict[str, Callable[[], torch.Tensor]]:
    """One call per impl on a fixed x, each checked once."""
    x = torch.randn(batch, inp, generator=torch.Generator().manual_seed(1))
    calls = {name: (lambda m=m: m(x)) for name, m in mods.items()}
    with torch.no_grad():
        out = {name: call() for name, call in calls.items()}
        assert torch.equal(out["int8 q8"], out["dense int8"])
        ref = F.linear(x, mods["int8 w8"].dense_weight())
        torch.testing.assert_close(out["int8 w8"], ref, rtol=1e-4, atol=1e-5 * (inp + 10))
        torch.testing.assert_close(out["fp32 CSR"], out["dense fp32"], rtol=1e-4, atol=1e-5 * (inp + 10))
        scale = out["dense fp32"].abs().max()
        assert (out["int8 q8"] - out["dense fp32"]).abs().max() < 0.05 * scale  # int8 rounding
    return calls


def measure(calls: dict[str, Callable[[], torch.Tensor]], rounds: int) -> dict[str, float]:
    """Median seconds per impl over interleaved rounds (after one warm-up call each)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    with torch.no_grad():
        for call in calls.values():
            call()
        for _ in range(rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def span(values: list[float], fmt: str = "{:.2f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if len(values) == 1 else f"{fmt.format(lo)}–{fmt.format(hi)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="out = in features (4096)")
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per repeat (15)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per batch (3)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    _, mods = layers(args.size, args.size, args.sparsity)
    rows = []
    for batch in args.batches:
        calls = runs(mods, batch, args.size)
        medians = [measure(calls, args.rounds) for _ in range(args.repeats)]
        ms = {name: [m[name] * 1e3 for m in medians] for name in IMPLS}
        ratio = {name: [m[name] / m["int8 q8"] for m in medians] for name in IMPLS}
        w8 = [m["fp32 CSR"] / m["int8 w8"] for m in medians]
        rows.append(f"| {batch} | {span(ms['int8 q8'], '{:.3f}')} | {span(ms['int8 w8'], '{:.3f}')} | "
                    f"{span(ms['fp32 CSR'], '{:.3f}')} | {span(ms['dense fp32'], '{:.3f}')} | "
                    f"{span(ms['dense int8'], '{:.3f}')} | **{span(ratio['fp32 CSR'])}×** | "
                    f"{span(w8)}× | **{span(ratio['dense fp32'])}×** | {span(ratio['dense int8'])}× |")
        print(rows[-1], flush=True)
    load_after = os.getloadavg()
    threads = f"{args.threads} thread{'s' if args.threads > 1 else ''}"
    print(f"\nLinear {args.size}x{args.size}, {args.sparsity:.0%} unstructured, {threads}, "
          f"median of {args.rounds} interleaved rounds, {args.repeats} repeats (ranges), torch "
          f"{torch.__version__}, int8 ISA {compressor._C.cpu_int8_isa()}, load average "
          f"{load_before[0]:.1f} before / {load_after[0]:.1f} after\n")
    print("| batch | int8 q8 ms | int8 w8 ms | fp32 CSR ms | dense fp32 ms | dense int8 ms | "
          "q8 vs fp32 CSR | w8 vs fp32 CSR | q8 vs dense fp32 | q8 vs dense int8 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
