"""Latency of a ResNet-18 with 50% of the filters of every prunable group removed,
against the dense model, beside the MAC ratio (same run, 1 thread by default).

    python -m benchmarks.thinning.resnet [--threads 1] [--rounds 7]

Prints a markdown table: per input size and batch, dense and thinned median latency,
the speed-up, the MAC reduction, and speed-up / MAC reduction (1.0 = the latency
falls exactly as the MACs do).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from compressor.engine.pruning.structured import group_scores
from compressor.engine.thinning import TOTAL, count_macs, plan_thinning, thin_model
from compressor.graph import find_groups, group_zero_masks
from compressor.models import build_model


def thinned_pair(image: int, fraction: float = 0.5, seed: int = 0):
    """(dense, thinned) ResNet-18 for ``image``-pixel inputs, 3 channels, 1000 classes."""
    torch.manual_seed(seed)
    dense = build_model("resnet18", num_classes=1000, in_channels=3, image_size=image).eval()
    thinned = build_model("resnet18", num_classes=1000, in_channels=3, image_size=image).eval()
    thinned.load_state_dict(dense.state_dict())
    example = torch.zeros(1, 3, image, image)
    groups = [g for g in find_groups(thinned, example) if g.prunable]
    masks: dict[str, torch.Tensor] = {}
    for g in groups:
        drop = torch.argsort(group_scores(thinned, g, "l1_filter"), stable=True)[: int(fraction * g.channels)]
        for name, m in group_zero_masks(thinned, g, drop).items():
            masks[name] = masks[name] & m if name in masks else m
    with torch.no_grad():
        params = dict(thinned.named_parameters())
        for name, m in masks.items():
            params[name].mul_(m)
    thin_model(thinned, plan_thinning(thinned, find_groups(thinned, example), masks=masks))
    return dense, thinned, example


@torch.no_grad()
def median_latency(model, x, rounds: int) -> float:
    model(x)  # warm-up
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 32])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| input | batch | dense | thinned | speed-up | MAC reduction | speed-up / MAC reduction |"
          "\n|---|---:|---:|---:|---:|---:|---:|")
    for image in args.sizes:
        dense, thinned, example = thinned_pair(image)
        mac_ratio = count_macs(dense, example)[TOTAL]["macs"] / count_macs(thinned, example)[TOTAL]["macs"]
        for batch in args.batches:
            x = torch.randn(batch, 3, image, image)
            torch.testing.assert_close(thinned(x[:1]).shape, dense(x[:1]).shape)
            # alternate the two models so machine noise hits both
            td, tt = [], []
            for _ in range(args.rounds):
                td.append(median_latency(dense, x, 1))
                tt.append(median_latency(thinned, x, 1))
            d, t = statistics.median(td), statistics.median(tt)
            print(f"| {image}×{image} | {batch} | {d * 1e3:.1f} ms | {t * 1e3:.1f} ms | {d / t:.2f}× | "
                  f"{mac_ratio:.2f}× | {d / t / mac_ratio:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
