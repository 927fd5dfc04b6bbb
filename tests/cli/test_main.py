"""The compress command: user errors exit 2 without a traceback, the implicit `run`,
`python -m compressor` (compressor/cli/)."""

from __future__ import annotations

import subprocess
import sys

import compressor
from compressor.cli import main
from compressor.cli.main import SUBCOMMANDS, build_parser

from ..helpers import VALID_SCHEDULE


def test_cli_exit_code_2_and_no_traceback(write_schedule, capsys):
    path = write_schedule(VALID_SCHEDULE.replace("weights: [fc1.weight]", "weights: [fc.weight]"))
    assert main(["check", "--schedule", str(path)]) == 2
    err = capsys.readouterr().err
    assert "pruners.fc_agp.weights: pattern" in err and "Traceback" not in err
    assert main(["--schedule", str(path)]) == 2  # `run` is the default command
    assert main(["check", "--schedule", str(path.parent / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_console_script_reports_without_traceback(write_schedule):
    path = write_schedule(VALID_SCHEDULE.replace("  epochs: 4", "  epochs: x"))
    proc = subprocess.run([sys.executable, "-m", "compressor", "check", "--schedule", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "training.epochs: expected an integer" in proc.stderr and "Traceback" not in proc.stderr


def test_python_dash_m_compressor_is_the_compress_command():
    proc = subprocess.run([sys.executable, "-m", "compressor", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"compressor {compressor.__version__}"
    proc = subprocess.run([sys.executable, "-m", "compressor", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: compress ")
    assert "{run,check,params,thin,bench,sparse}" in proc.stdout


def test_each_subcommand_dispatches_to_its_module(capsys):
    parser = build_parser()
    argv = {"run": ["run"], "check": ["check", "--schedule", "s.yaml"], "params": ["params"],
            "thin": ["thin", "c.pt", "--out", "t.pt"], "bench": ["bench", "c.pt"],
            "sparse": ["sparse", "c.pt", "--out", "s.pt"]}
    assert set(argv) == set(SUBCOMMANDS)
    for name, args in argv.items():
        func = parser.parse_args(args).func
        assert func.__module__ == f"compressor.cli.{name}" and func.__name__ == "command", name
    assert main([]) == 2 and "usage: compress" in capsys.readouterr().out  # no command: help
