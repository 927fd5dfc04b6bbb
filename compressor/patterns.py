"""Choosing parameters by name: glob patterns, or regular expressions with ``re:``.

``conv*.weight`` and ``layer1.*.weight`` are globs (``*`` also crosses dots);
``re:layer[12]\\..*conv.*\\.weight`` is a regular expression that must match the
whole name.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from .schedule.problems import did_you_mean

REGEX_PREFIX = "re:"


class PatternError(ValueError):
    """The pattern itself is malformed (e.g. a bad regular expression)."""


def compile_pattern(pattern: str):
    """Return a predicate ``name -> bool`` for one pattern."""
    if pattern.startswith(REGEX_PREFIX):
        try:
            rx = re.compile(pattern[len(REGEX_PREFIX):])
        except re.error as exc:
            raise PatternError(f"invalid regular expression {pattern!r}: {exc}") from None
        return lambda name: rx.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def match(pattern: str, names: Iterable[str]) -> list[str]:
    """Names matched by ``pattern``, in the given order."""
    predicate = compile_pattern(pattern)
    return [n for n in names if predicate(n)]


def resolve(patterns: Iterable[str], names: Iterable[str], what: str = "parameter",
            ) -> tuple[dict[str, list[str]], list[str]]:
    """Which names each pattern chooses, and a message for each pattern that is bad.

    Returns ``({pattern: [names]}, [error messages])``; a pattern that matches nothing
    gets an error with the closest names.
    """
    names = list(names)
    chosen: dict[str, list[str]] = {}
    errors: list[str] = []
    for pattern in patterns:
        try:
            found = match(pattern, names)
        except PatternError as exc:
            errors.append(str(exc))
            continue
        if not found:
            errors.append(f"pattern {pattern!r} matches no {what} of the model"
                          + did_you_mean(pattern, names))
            continue
        chosen[pattern] = found
    return chosen, errors
