"""The ``compress`` command.

    compress --schedule FILE [options]     run a schedule (same as ``compress run``)
    compress check --schedule FILE         check a schedule without training
    compress params (--schedule FILE | --arch NAME --dataset NAME)
                                           list parameter names and shapes for patterns
    compress thin CKPT --out THIN_CKPT     remove zeroed channels physically (offline)
    compress bench CKPT [--json PATH]      dense / ONNX Runtime / masked / thinned / sparse latency table
    compress sparse CKPT --out SPARSE_CKPT sparse-kernel inference checkpoint of any checkpoint

User mistakes print one clear message (all of a schedule's errors at once) and exit
with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..errors import CompressorError

SUBCOMMANDS = ("run", "check", "params", "thin", "bench", "sparse")
EXIT_USER_ERROR = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compress", description="Schedule-driven neural-network compression for PyTorch.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"compressor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{run,check,params,thin,bench,sparse}")

    run = sub.add_parser("run", help="run a schedule (default command)")
    run.add_argument("--schedule", help="YAML schedule file")
    run.add_argument("--out", help="output directory (default runs/<schedule name>)")
    run.add_argument("--resume-from", metavar="CKPT", help="continue from a checkpoint of this run")
    run.add_argument("--data-dir", help="data directory (overrides data.dir)")
    run.add_argument("--epochs", type=_positive_int, help="override training.epochs")
    run.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    run.add_argument("--seed", type=_positive_int, help="random seed (default 0, or the checkpoint's)")
    run.add_argument("--threads", type=_positive_int, help="torch threads (default: torch's choice)")
    run.add_argument("--max-batches-per-epoch", type=_positive_int, metavar="N",
                     help="train on at most N batches per epoch (quick runs)")
    run.add_argument("--keep-checkpoints", type=_positive_int, default=2, metavar="N",
                     help="epoch checkpoints to keep, newest first (0 = all; default 2)")
    bars = run.add_mutually_exclusive_group()
    bars.add_argument("--progress", dest="progress", action="store_const", const=True,
                      help="always show progress bars")
    bars.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                      help="never show progress bars (default: only on a terminal)")

    check = sub.add_parser("check", help="check a schedule (and its patterns) without training")
    check.add_argument("--schedule", required=True)
    check.add_argument("--epochs", type=_positive_int, help="override training.epochs")

    params = sub.add_parser("params", help="list a model's parameter names and shapes")
    params.add_argument("--schedule", help="take the model and data set from this schedule")
    params.add_argument("--arch", help="model name (with --dataset)")
    params.add_argument("--dataset", default="fashion_mnist", help="data set (decides input shape)")
    thin = sub.add_parser("thin", help="physically remove zeroed channels of a checkpoint")
    thin.add_argument("checkpoint", help="a checkpoint written by `compress`")
    thin.add_argument("--out", required=True, help="where to write the thinned checkpoint")
    bench = sub.add_parser("bench", help="time dense / masked / thinned / sparse variants of a checkpoint")
    bench.add_argument("checkpoint")
    bench.add_argument("--batch-sizes", type=_positive_int, nargs="+", default=[1, 32])
    bench.add_argument("--threads", type=_positive_int, nargs="+", default=[1],
                       help="thread counts, each reported separately (default 1)")
    bench.add_argument("--runs", type=_positive_int, default=50, help="timed runs per case (max)")
    bench.add_argument("--warmup", type=_positive_int, default=5)
    bench.add_argument("--budget", type=float, default=10.0, help="seconds per case at most")
    bench.add_argument("--data-dir", help="test data for accuracy (default: the data set's place)")
    bench.add_argument("--test-samples", type=_positive_int, default=2000)
    bench.add_argument("--no-sparse", action="store_true", help="skip the sparse-kernel variant")
    bench.add_argument("--no-onnx", action="store_true",
                       help="skip the onnxruntime reference (used when onnxruntime is installed)")
    bench.add_argument("--json", metavar="PATH", help="write the results as JSON")
    sparse = sub.add_parser("sparse", help="write a sparse-kernel inference checkpoint of any checkpoint")
    sparse.add_argument("checkpoint", help="a checkpoint written by `compress` (dense, masked, thinned)")
    sparse.add_argument("--out", required=True, help="where to write the sparse checkpoint")
    sparse.add_argument("--min-sparsity", type=float, default=0.5,
                        help="layers with fewer zero weights stay dense (default 0.5)")
    sparse.add_argument("--batch-size", type=_positive_int, default=1,
                        help="batch of the input on which the formats are timed (default 1)")
    sparse.add_argument("--no-measure", action="store_true",
                        help="pick the formats by a heuristic instead of timing them")
    sparse.add_argument("--thin", action="store_true",
                        help="first remove channels that are zero in a whole group (as `compress thin`)")
    sparse.add_argument("--time-budget", type=float, default=2.0, metavar="SECONDS",
                        help="seconds for timing all layers' formats together (default 2)")
    sparse.add_argument("--keep-batchnorm", action="store_true",
                        help="do not fold BatchNorms into the converted convolutions before them")
    return parser


def _cmd_sparse(args: argparse.Namespace) -> int:
    from ..io.sparse import format_summary, sparse_checkpoint

    entry = sparse_checkpoint(args.checkpoint, args.out, min_sparsity=args.min_sparsity,
                              batch_size=args.batch_size, measure=not args.no_measure,
                              thin=args.thin, time_budget=args.time_budget,
                              fold_batchnorm=not args.keep_batchnorm)
    print(format_summary(entry))
    print(f"sparse checkpoint: {args.out} (load it with compressor.load; time it with compress bench)")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
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


def _cmd_thin(args: argparse.Namespace) -> int:
    from ..io.spec import thin_checkpoint

    r = thin_checkpoint(args.checkpoint, args.out)
    print(f"removed {r['channels_removed']} channels: params {r['params_before']:,} → "
          f"{r['params_after']:,}, MACs/sample {r['macs_before']:,} → {r['macs_after']:,}")
    print(f"thinned checkpoint: {args.out} (load it with compressor.load)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from ..runner.run import CompressionRun, RunOptions

    if not args.schedule and not args.resume_from:
        raise CompressorError("run: give --schedule FILE (or --resume-from CKPT)")
    options = RunOptions(
        schedule=args.schedule, out=args.out, resume_from=args.resume_from, data_dir=args.data_dir,
        epochs=args.epochs, device=args.device, seed=args.seed, threads=args.threads,
        max_batches_per_epoch=args.max_batches_per_epoch, keep_checkpoints=args.keep_checkpoints,
        progress=args.progress)
    run = CompressionRun(options)
    report = run.execute()
    print(f"dense accuracy:  top1 {report['dense']['top1']:.2f}%")
    print(f"final accuracy:  top1 {report['final']['top1']:.2f}%  top5 {report['final']['top5']:.2f}%")
    print(f"sparsity:        {100 * report['sparsity']['total']:.2f}% of all parameters, "
          f"{100 * report['sparsity']['targeted']:.2f}% of pruned tensors")
    totals = report["structure"]["totals"]
    if totals["params_after"] != totals["params_before"]:  # thinned
        print(f"structure:       {totals['params_before']:,} → {totals['params_after']:,} parameters, "
              f"{totals['macs_before'] / max(totals['macs_after'], 1):.2f}× fewer MACs (thinned)")
    print(f"report:          {run.out / 'report.json'} and {run.out / 'report.md'}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from ..runner.run import check_schedule

    schedule = check_schedule(args.schedule, epochs=args.epochs)
    print(f"{schedule.path}: OK ({len(schedule.pruners)} pruners, {len(schedule.policies)} policies, "
          f"{schedule.epochs} epochs)")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    from .. import data, models
    from ..runner.run import prepare

    if args.schedule:
        schedule, model, _, problems = prepare(args.schedule)
        if model is None:
            problems.raise_if_any()
    elif args.arch:
        info = data.dataset_info(args.dataset)
        model = models.build_model(args.arch, num_classes=info.num_classes,
                                   in_channels=info.channels, image_size=info.image_size)
    else:
        raise CompressorError("params: give --schedule FILE or --arch NAME")
    for name, p in model.named_parameters():
        print(f"{name:50s} {'x'.join(map(str, p.shape)):>20s} {p.numel():>12,}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "run")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    handler = {"run": _cmd_run, "check": _cmd_check, "params": _cmd_params,
               "thin": _cmd_thin, "bench": _cmd_bench, "sparse": _cmd_sparse}[args.command]
    try:
        return handler(args)
    except CompressorError as exc:
        print(f"compress: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("compress: interrupted; continue with --resume-from <the newest checkpoint>",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
