"""Collecting every mistake in a schedule file, then reporting them together."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import CompressorError


@dataclass(frozen=True)
class Problem:
    line: int
    key: str
    message: str


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?) valid: a, b, c' — the hint appended to name errors."""
    choices = sorted({str(c) for c in choices})
    close = difflib.get_close_matches(str(word), choices, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    if not choices:
        return hint + "; there are no valid choices here"
    shown = ", ".join(choices[:30]) + (", ..." if len(choices) > 30 else "")
    return f"{hint} Valid: {shown}" if hint else f"; valid: {shown}"


@dataclass
class Problems:
    """Accumulates problems found in one file."""

    path: str
    items: list[Problem] = field(default_factory=list)

    def add(self, line: int, key: str, message: str) -> None:
        self.items.append(Problem(line, key, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ScheduleError(self.path, self.items)


class ScheduleError(CompressorError):
    """One or more problems in a schedule file, each with file, line and key (line 0:
    settings that come from no file line, e.g. the arguments of ``compressor.prune``)."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = sorted(problems, key=lambda p: (p.line, p.key))
        super().__init__(self._format())

    def _where(self, line: int) -> str:
        return f"{self.path}:{line}" if line else self.path

    def _format(self) -> str:
        n = len(self.problems)
        head = f"{self.path}: {n} error{'s' if n != 1 else ''} in schedule"
        lines = [f"  {self._where(p.line)}: {p.key}: {p.message}" if p.key
                 else f"  {self._where(p.line)}: {p.message}" for p in self.problems]
        return "\n".join([head, *lines])
