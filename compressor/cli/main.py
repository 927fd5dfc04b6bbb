"""The ``compress`` command: the parser, dispatch, and user errors → exit status 2.

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
from collections.abc import Sequence

from .. import __version__
from ..errors import CompressorError
from . import bench, check, params, run, sparse, thin

COMMANDS = (run, check, params, thin, bench, sparse)  # in the order `compress --help` lists them
SUBCOMMANDS = tuple(module.__name__.rpartition(".")[2] for module in COMMANDS)  # module = name
EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """``compress --help`` also lists the run options: ``compress --schedule FILE ...`` is
    the command people type most."""

    run_parser: argparse.ArgumentParser | None = None

    def format_help(self) -> str:
        text = super().format_help()
        if self.run_parser is None:
            return text
        run_help = self.run_parser.format_help()
        options = run_help[run_help.index("options:"):].split("\n", 1)[1]
        options = "\n".join(line for line in options.split("\n") if not line.startswith("  -h, --help"))
        return (f"{text}\nrun options (compress --schedule FILE [options], the same as "
                f"`compress run`):\n{options}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="compress", description="Schedule-driven neural-network compression for PyTorch.",
        usage="compress --schedule FILE [run options]\n       compress {" + ",".join(SUBCOMMANDS)
              + "} ...\n       compress --version")
    parser.add_argument("--version", action="version", version=f"compressor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for command in COMMANDS:
        added = command.add_parser(sub)
        if command is run:
            parser.run_parser = added
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "run")  # `compress --schedule FILE ...` is `compress run --schedule FILE ...`
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return args.func(args)
    except CompressorError as exc:
        print(f"compress: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("compress: interrupted", file=sys.stderr)
        return 130
