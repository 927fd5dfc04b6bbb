"""Speed-ups of the mask ops over their torch equivalents, as a markdown table.

    python -m benchmarks.masks.ratios                   # 100M fp32, 1 and 2 threads
    python -m benchmarks.masks.ratios --threads 1 --size 10000000 --groups threshold apply

Each call is timed with time.perf_counter on fresh arguments (built untimed) and
the median of the rounds is reported; every result is checked.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from .cases import FULL_SIZE, Case, cases, size_label


def median_seconds(case: Case, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        # Free the last round's output first: dropping it inside the timed region
        # (by rebinding `result`) would time the unmapping of hundreds of MB.
        result = None
        args, kwargs = case.setup()
        start = time.perf_counter()
        result = case.run(*args, **kwargs)
        times.append(time.perf_counter() - start)
    case.check(result)
    return statistics.median(times)


def format_seconds(s: float) -> str:
    return f"{s:.2f} s" if s >= 1 else f"{s * 1e3:.{0 if s >= 0.01 else 2}f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=FULL_SIZE, help="fp32 weights (100M)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--groups", nargs="+", default=["threshold", "mask", "apply"],
                        help="which ops to time (default: all)")
    parser.add_argument("--rounds", type=int, default=0,
                        help="rounds per call (default: 5, 3 for torch.kthvalue)")
    args = parser.parse_args(argv)

    table = {cid: case for cid, case in cases(args.size).items() if case.group in args.groups}
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        seconds = {cid: median_seconds(case, args.rounds or case.rounds)
                   for cid, case in table.items()}
        for cid, case in table.items():
            if case.impl.startswith("compressor"):
                continue
            ours_id = f"{case.group}/compressor"
            ours, theirs = seconds[ours_id], seconds[cid]
            rows.append(f"| {case.group} | {threads} | `{table[ours_id].impl}` | "
                        f"{format_seconds(ours)} | `{case.impl}` | {format_seconds(theirs)} | "
                        f"{ours / theirs:.3f} | {theirs / ours:.1f}× |")
            print(rows[-1], file=sys.stderr, flush=True)  # progress

    print(f"\n{size_label(args.size)} fp32 weights ~ N(0, 1), sparsity 0.5, "
          f"median of rounds, torch {torch.__version__}\n")
    print("| op | threads | ours | time | torch | time | ours / torch | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
