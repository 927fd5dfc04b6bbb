"""Speed-ups of the sparse kernels over torch dense and torch.sparse CSR, as markdown.

    python -m benchmarks.sparse.ratios                     # everything, 1 thread
    python -m benchmarks.sparse.ratios --only "linear 4096x4096" --rounds 9
    python -m benchmarks.sparse.ratios --timer thread      # CPU time: robust on a shared machine

Rounds are interleaved (ours, dense, CSR, ours, ...) so that drifting machine load
hits all three alike; each cell is the median of the rounds; every result is
checked against F.linear / F.conv2d of the dense masked weight. Below the main
table: the 4x1 / 1x4 block formats against our CSR on an unstructured weight of
the same sparsity, timed in the same rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import compressor._C

from .cases import Spec, cases, conv_specs, linear_specs

TIMERS = {"wall": time.perf_counter, "thread": time.thread_time}


def measure(spec: Spec, rounds: int, timer) -> dict[str, float]:
    """Median seconds per impl over interleaved rounds (after one warm-up call each)."""
    table = cases(spec)
    times: dict[str, list[float]] = {impl: [] for impl in table}
    for case in table.values():
        case.check(case.run())
    for _ in range(rounds):
        for impl, case in table.items():
            start = timer()
            case.run()
            times[impl].append(timer() - start)
    return {impl: statistics.median(t) for impl, t in times.items()}


def ms(s: float) -> str:
    return f"{s * 1e3:.3f}" if s < 0.01 else f"{s * 1e3:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per workload (7)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timer", choices=sorted(TIMERS), default="wall",
                        help="wall clock, or this thread's CPU time (1 thread only)")
    parser.add_argument("--only", default="", help="workloads whose name contains this text")
    args = parser.parse_args(argv)
    if args.timer == "thread" and args.threads != 1:
        parser.error("--timer thread measures one thread; use --threads 1")
    torch.set_num_threads(args.threads)
    timer = TIMERS[args.timer]

    specs = [s for s in linear_specs() + conv_specs() if args.only in s.group]
    results: dict[Spec, dict[str, float]] = {}
    rows = []
    for spec in specs:
        t = results[spec] = measure(spec, args.rounds, timer)
        ours, dense = t["compressor"], t["torch dense"]
        csr = t.get("torch CSR")
        rows.append(f"| {spec.group} | {ms(ours)} | {ms(dense)} | "
                    f"{ms(csr) if csr else '–'} | {dense / ours:.2f}× | "
                    f"{f'{csr / ours:.2f}×' if csr else '–'} |")
        print(rows[-1], file=sys.stderr, flush=True)  # progress

    print(f"\n{args.threads} thread{'s' if args.threads > 1 else ''}, median of {args.rounds} "
          f"interleaved rounds ({args.timer} time), torch {torch.__version__}, "
          f"compressor ISA {compressor._C.cpu_isa()}\n")
    print("| workload | ours ms | dense ms | torch CSR ms | vs dense | vs CSR |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))

    blocks = [f"| {spec.group} | {ms(t['compressor'])} | {ms(t['compressor CSR'])} | "
              f"{t['compressor CSR'] / t['compressor']:.2f}× |"
              for spec, t in results.items() if "compressor CSR" in t]
    if blocks:
        print("\n| blocks | blocks ms | our CSR ms (unstructured, same sparsity) | vs our CSR |")
        print("|---|---|---|---|")
        print("\n".join(blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
