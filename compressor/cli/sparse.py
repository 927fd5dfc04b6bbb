"""``compress sparse``: a sparse-kernel inference checkpoint of any checkpoint."""

from __future__ import annotations

import argparse

from .args import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    sparse = sub.add_parser("sparse", help="write a sparse-kernel inference checkpoint of any checkpoint")
    sparse.add_argument("checkpoint", help="a checkpoint written by `compress` (dense, masked, thinned)")
    sparse.add_argument("--out", required=True, help="where to write the sparse checkpoint")
    sparse.add_argument("--min-sparsity", type=float, default=0.5,
                        help="layers with fewer zero weights stay dense (default 0.5)")
    sparse.add_argument("--batch-size", type=positive_int, default=1,
                        help="batch of the input on which the formats are timed (default 1)")
    sparse.add_argument("--no-measure", action="store_true",
                        help="pick the formats by a heuristic instead of timing them")
    sparse.add_argument("--thin", action="store_true",
                        help="first remove channels that are zero in a whole group (as `compress thin`)")
    sparse.add_argument("--time-budget", type=float, default=2.0, metavar="SECONDS",
                        help="seconds for timing all layers' formats together (default 2)")
    sparse.add_argument("--keep-batchnorm", action="store_true",
                        help="do not fold BatchNorms into the converted convolutions before them")
    sparse.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from ..io.sparse import format_summary, sparse_checkpoint

    entry = sparse_checkpoint(args.checkpoint, args.out, min_sparsity=args.min_sparsity,
                              batch_size=args.batch_size, measure=not args.no_measure,
                              thin=args.thin, time_budget=args.time_budget,
                              fold_batchnorm=not args.keep_batchnorm)
    print(format_summary(entry))
    print(f"sparse checkpoint: {args.out} (load it with compressor.load; time it with compress bench)")
    return 0
