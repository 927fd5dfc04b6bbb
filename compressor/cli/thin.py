"""``compress thin``: physically remove the zeroed channels of a checkpoint (offline)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    thin = sub.add_parser("thin", help="physically remove zeroed channels of a checkpoint")
    thin.add_argument("checkpoint", help="a checkpoint written by `compress`")
    thin.add_argument("--out", required=True, help="where to write the thinned checkpoint")
    thin.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from ..io.thin import thin_checkpoint

    r = thin_checkpoint(args.checkpoint, args.out)
    print(f"removed {r['channels_removed']} channels: params {r['params_before']:,} → "
          f"{r['params_after']:,}, MACs/sample {r['macs_before']:,} → {r['macs_after']:,}")
    print(f"thinned checkpoint: {args.out} (load it with compressor.load)")
    return 0
