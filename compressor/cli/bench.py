"""``compress bench``: time the dense / ONNX Runtime / masked / thinned / sparse variants."""

from __future__ import annotations

import argparse

from .args import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="time dense / masked / thinned / sparse variants of a checkpoint")
    bench.add_argument("checkpoint")
    bench.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 32])
    bench.add_argument("--threads", type=positive_int, nargs="+", default=[1],
                       help="thread counts, each reported separately (default 1)")
    bench.add_argument("--runs", type=positive_int, default=50, help="timed runs per case (max)")
    bench.add_argument("--warmup", type=positive_int, default=5)
    bench.add_argument("--budget", type=float, default=10.0, help="seconds per case at most")
    bench.add_argument("--data-dir", help="test data for accuracy (default: the data set's place)")
    bench.add_argument("--test-samples", type=positive_int, default=2000)
    bench.add_argument("--no-sparse", action="store_true", help="skip the sparse-kernel variant")
    bench.add_argument("--no-onnx", action="store_true",
                       help="skip the onnxruntime reference (used when onnxruntime is installed)")
    bench.add_argument("--json", metavar="PATH", help="write the results as JSON")
    bench.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from ..bench import check_positive, render_table, run_bench, write_json

    check_positive("--batch-sizes", args.batch_sizes)
    check_positive("--threads", args.threads)
    results = run_bench(args.checkpoint, batch_sizes=args.batch_sizes, threads=args.threads,
                        runs=args.runs, warmup=args.warmup, budget_s=args.budget,
                        data_dir=args.data_dir, test_samples=args.test_samples,
                        sparse=not args.no_sparse, onnx=not args.no_onnx)
    print(render_table(results))
    if args.json:
        write_json(results, args.json)
        print(f"json: {args.json}")
    return 0
