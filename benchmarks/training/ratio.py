"""Overhead of masking on a ResNet-18 training step, measured in one run.

    python -m benchmarks.training.ratio [--batch 32] [--image 32] [--threads 1] [--rounds 20]

The unmasked and masked steps alternate (so machine noise hits both alike); the
overhead is the ratio of their medians. The masked step is what the compression
scheduler does every minibatch: the optimizer step followed by the fused C++ mask
application over every conv and fc weight (80% pruned).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from .cases import make_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--image", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, _, plain = make_step(args.batch, args.image, masked=False)
    _, store, masked = make_step(args.batch, args.image, masked=True)
    for step in (plain, masked, plain, masked):  # warm-up
        step()
    times = {"unmasked": [], "masked": []}
    apply_times = []
    for _ in range(args.rounds):
        for name, step in (("unmasked", plain), ("masked", masked)):
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.apply()
        apply_times.append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"| ResNet-18 train step, batch {args.batch}, {args.image}×{args.image}, "
          f"{args.threads} thread(s) | unmasked {med['unmasked'] * 1e3:.1f} ms | "
          f"masked {med['masked'] * 1e3:.1f} ms | "
          f"overhead {100 * (med['masked'] / med['unmasked'] - 1):+.2f}% | "
          f"mask apply alone {statistics.median(apply_times) * 1e3:.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
