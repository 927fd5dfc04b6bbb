"""ResNet-18 (224x224, batch 1) with 90% unstructured sparsity on every convolution
and the fc layer, converted with ``compressor.sparse.convert``, against the dense
torch model: latency ratio in the same run.

    python -m benchmarks.sparse.resnet                 # 1 thread, 15 rounds, 3 repeats
    python -m benchmarks.sparse.resnet --threads 2
    python -m benchmarks.sparse.resnet --layers        # plus per-layer choices and times
    python -m benchmarks.sparse.resnet --keep-batchnorm  # without BatchNorm folding

Rounds alternate dense and converted (drifting machine load hits both alike); a
repeat reports the medians of its rounds and their ratio; the table lists every
repeat and the range. ``test_bench_sparse.py::test_resnet18_90`` times the same
pair with pytest-benchmark. The converted model's output is checked against the
dense model's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn

from compressor.models import build_model
from compressor.sparse import convert

SPARSITY = 0.9
IMAGE = 224


def pruned_resnet18(sparsity: float = SPARSITY, image: int = IMAGE, seed: int = 0) -> nn.Module:
    """An eval-mode ResNet-18 (1000 classes) whose Conv2d / Linear weights keep only their
    largest (1 - sparsity) fraction of magnitudes, layer by layer."""
    return pruned_model("resnet18", sparsity, image, seed)


def pruned_model(arch: str, sparsity: float = SPARSITY, image: int = IMAGE, seed: int = 0) -> nn.Module:
    """``pruned_resnet18`` for any architecture of ``compressor.models``."""
    torch.manual_seed(seed)
    model = build_model(arch, num_classes=1000, in_channels=3, image_size=image).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                w = module.weight
                drop = int(sparsity * w.numel())
                if drop > 0:
                    cut = w.abs().flatten().kthvalue(drop).values
                    w.mul_(w.abs() > cut)
    return model


def resnet_pair(sparsity: float = SPARSITY, image: int = IMAGE, batch: int = 1,
                report: list | None = None, fold_batchnorm: bool = True):
    """(dense, converted, input): the converted model is timed per layer on ``input``."""
    dense = pruned_resnet18(sparsity, image)
    x = torch.randn(batch, 3, image, image, generator=torch.Generator().manual_seed(1))
    converted = convert(dense, example_inputs=x, report=report, fold_batchnorm=fold_batchnorm)
    return dense, converted, x


def check(dense: nn.Module, converted: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        torch.testing.assert_close(converted(x), dense(x), rtol=1e-3, atol=1e-4)


@torch.no_grad()
def interleaved(models: dict[str, nn.Module], x: torch.Tensor, rounds: int) -> dict[str, float]:
    """Median seconds per model over ``rounds`` alternating calls (after a warm-up each)."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for m in models.values():
        m(x)
    for _ in range(rounds):
        for name, m in models.items():
            start = time.perf_counter()
            m(x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", action="store_true", help="print per-layer choices")
    parser.add_argument("--keep-batchnorm", action="store_true",
                        help="convert without folding the BatchNorms into the sparse convs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report: list = []
    dense, converted, x = resnet_pair(report=report, fold_batchnorm=not args.keep_batchnorm)
    check(dense, converted, x)
    if args.layers:
        print("| layer | choice | dense ms | sparse ms |\n|---|---|---:|---:|")
        for r in report:
            sparse = min((v for k, v in r.times_ms.items() if k != "dense"), default=float("nan"))
            print(f"| {r.name} | {r.choice} | {r.times_ms.get('dense', float('nan')):.3f} "
                  f"| {sparse:.3f} |")
        print()
    print(f"ResNet-18 {IMAGE}x{IMAGE} batch 1, {SPARSITY:.0%} unstructured sparsity, "
          f"{args.threads} thread{'s' if args.threads > 1 else ''}, BatchNorms "
          f"{'kept' if args.keep_batchnorm else 'folded into the sparse convs'}, "
          f"median of {args.rounds} interleaved rounds\n")
    print("| repeat | dense ms | converted ms | converted / dense |\n|---|---:|---:|---:|")
    ratios = []
    for i in range(args.repeats):
        t = interleaved({"dense": dense, "converted": converted}, x, args.rounds)
        ratios.append(t["converted"] / t["dense"])
        print(f"| {i + 1} | {t['dense'] * 1e3:.1f} | {t['converted'] * 1e3:.1f} | {ratios[-1]:.3f} |")
    print(f"\nratio range {min(ratios):.3f} - {max(ratios):.3f}, median {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
