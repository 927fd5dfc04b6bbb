"""``compress run`` (also ``compress --schedule FILE``): run a schedule to the end.

SIGTERM is handled like Ctrl-C: the run writes its report marked partial and the
command exits with 128 + the signal's number, naming the checkpoint to resume from.
"""

from __future__ import annotations

import argparse
import signal
import sys

from ..errors import CompressorError
from .args import positive_int


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an interrupt so the run stops as it does on Ctrl-C."""

    signum = signal.SIGTERM


def device(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` (checked against this machine when the run starts,
    before anything is read)."""
    import torch

    try:
        parsed = torch.device(text)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"expected cpu or cuda (cuda:N), got {text!r}")
    return text


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    run = sub.add_parser("run", help="run a schedule (default command)",
                         description="Run a schedule: dense training, compression, report.")
    run.add_argument("--schedule", help="YAML schedule file")
    run.add_argument("--out", help="output directory (default runs/<schedule name>)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace another run in --out (its files are removed first)")
    run.add_argument("--resume-from", metavar="CKPT",
                     help="continue from a checkpoint of a run, with its settings")
    run.add_argument("--data-dir", help="data directory (overrides data.dir)")
    run.add_argument("--epochs", type=positive_int, help="override training.epochs")
    run.add_argument("--device", type=device, help="cpu or cuda (default cpu, or the checkpoint's)")
    run.add_argument("--seed", type=positive_int, help="random seed (default 0, or the checkpoint's)")
    run.add_argument("--threads", type=positive_int,
                     help="torch threads (default: torch's choice, or the checkpoint's)")
    run.add_argument("--max-batches-per-epoch", type=positive_int, metavar="N",
                     help="train on at most N batches per epoch (quick runs)")
    run.add_argument("--keep-checkpoints", type=positive_int, default=2, metavar="N",
                     help="epoch checkpoints to keep, newest first (0 = all; default 2)")
    run.add_argument("--tensorboard", metavar="DIR",
                     help="write TensorBoard scalars to DIR (needs the tensorboard package)")
    bars = run.add_mutually_exclusive_group()
    bars.add_argument("--progress", dest="progress", action="store_const", const=True,
                      help="always show progress bars")
    bars.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                      help="never show progress bars (default: only on a terminal)")
    run.set_defaults(func=command)
    return run


def _terminate(signum, frame) -> None:
    raise Terminated()


def command(args: argparse.Namespace) -> int:
    from ..runner.run import CompressionRun, RunOptions
    from ..runner.settings import check_device

    if args.device is not None:
        check_device(args.device)  # before any file is read
    if not args.schedule and not args.resume_from:
        raise CompressorError("run: give --schedule FILE (or --resume-from CKPT)")
    options = RunOptions(
        schedule=args.schedule, out=args.out, resume_from=args.resume_from, data_dir=args.data_dir,
        epochs=args.epochs, device=args.device, seed=args.seed, threads=args.threads,
        max_batches_per_epoch=args.max_batches_per_epoch, keep_checkpoints=args.keep_checkpoints,
        progress=args.progress, overwrite=args.overwrite, tensorboard=args.tensorboard)
    run = CompressionRun(options)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run.execute()
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        resume = f"compress --resume-from {run.last_checkpoint}" if run.last_checkpoint else \
            "no checkpoint was written yet; start the run again"
        report = (f"partial report in {run.out / 'report.md'}" if run.test_split is not None
                  else "no report (stopped before the data was loaded)")
        print(f"compress: interrupted ({signal.Signals(signum).name}); {report}; continue with: "
              f"{resume}", file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)
    dense = report["dense"]
    print(f"dense accuracy:  top1 {dense['top1']:.2f}%")
    print(f"final accuracy:  top1 {report['final']['top1']:.2f}%  top5 {report['final']['top5']:.2f}%")
    print(f"sparsity:        {100 * report['sparsity']['total']:.2f}% of all parameters, "
          f"{100 * report['sparsity']['targeted']:.2f}% of pruned tensors")
    totals = report["structure"]["totals"]
    if totals["params_after"] != totals["params_before"]:  # thinned
        print(f"structure:       {totals['params_before']:,} → {totals['params_after']:,} parameters, "
              f"{totals['macs_before'] / max(totals['macs_after'], 1):.2f}× fewer MACs (thinned)")
    print(f"report:          {run.out / 'report.json'} and {run.out / 'report.md'}")
    return 0
