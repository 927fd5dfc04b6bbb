"""``compress run`` (also ``compress --schedule FILE``): run a schedule to the end."""

from __future__ import annotations

import argparse

from ..errors import CompressorError
from .args import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a schedule (default command)")
    run.add_argument("--schedule", help="YAML schedule file")
    run.add_argument("--out", help="output directory (default runs/<schedule name>)")
    run.add_argument("--resume-from", metavar="CKPT", help="continue from a checkpoint of this run")
    run.add_argument("--data-dir", help="data directory (overrides data.dir)")
    run.add_argument("--epochs", type=positive_int, help="override training.epochs")
    run.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    run.add_argument("--seed", type=positive_int, help="random seed (default 0, or the checkpoint's)")
    run.add_argument("--threads", type=positive_int, help="torch threads (default: torch's choice)")
    run.add_argument("--max-batches-per-epoch", type=positive_int, metavar="N",
                     help="train on at most N batches per epoch (quick runs)")
    run.add_argument("--keep-checkpoints", type=positive_int, default=2, metavar="N",
                     help="epoch checkpoints to keep, newest first (0 = all; default 2)")
    bars = run.add_mutually_exclusive_group()
    bars.add_argument("--progress", dest="progress", action="store_const", const=True,
                      help="always show progress bars")
    bars.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                      help="never show progress bars (default: only on a terminal)")
    run.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
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
