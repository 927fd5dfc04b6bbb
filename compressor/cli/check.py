"""``compress check``: every check of a schedule that needs no data, without training."""

from __future__ import annotations

import argparse

from .args import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("check", help="check a schedule (and its patterns) without training")
    check.add_argument("--schedule", required=True)
    check.add_argument("--epochs", type=positive_int, help="override training.epochs")
    check.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from ..runner.run import check_schedule

    schedule = check_schedule(args.schedule, epochs=args.epochs)
    print(f"{schedule.path}: OK ({len(schedule.pruners)} pruners, {len(schedule.policies)} policies, "
          f"{schedule.epochs} epochs)")
    return 0
