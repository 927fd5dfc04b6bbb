"""Declarative parsing of YAML mappings into dataclasses.

Each schedule section is a dataclass; its fields' type hints say what a key accepts
and ``field(metadata=...)`` adds bounds and documentation. ``parse_into`` checks a
``LocatedDict`` against the dataclass, records every problem (unknown key with a
"did you mean", missing key, wrong type, out-of-range value) with its line, and
returns the instance, or ``None`` when the section could not be built.

Supported hints: ``int``, ``float``, ``bool``, ``str``, ``Literal[...]``,
``X | None``, ``list[X]``, ``dict[str, X]``, ``Any``, nested dataclasses, and
``Union`` of a list and a dict (tried by the YAML node's kind).
"""

from __future__ import annotations

import dataclasses
import math
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .located_yaml import LocatedDict, LocatedList
from .problems import Problems, did_you_mean

EXTRA = "extra"  # name of the field that collects pass-through keys, when declared


def option(default: Any = dataclasses.MISSING, *, doc: str = "", min: float | None = None,
           max: float | None = None, max_exclusive: bool = False,
           min_exclusive: bool = False, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with bounds and a line of documentation."""
    meta = {"doc": doc, "min": min, "max": max, "max_exclusive": max_exclusive,
            "min_exclusive": min_exclusive}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def extra_options(doc: str) -> Any:
    """A ``dict`` field that receives every key the dataclass does not declare."""
    return dataclasses.field(default_factory=dict, metadata={"doc": doc, EXTRA: True})


@dataclasses.dataclass
class Located:
    """Base of parsed sections: remembers the lines of its keys for later checks."""

    def __post_init__(self) -> None:
        self._lines: dict[str, int] = {}
        self._line: int = 0
        self._key: str = ""

    def line_of(self, name: str) -> int:
        return self._lines.get(name, self._line)

    def key_of(self, name: str) -> str:
        return f"{self._key}.{name}" if self._key else name


def _type_name(hint: Any) -> str:
    origin = get_origin(hint)
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is bool:
        return "true or false"
    if hint is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(hint))
    if origin is list:
        return f"a list of {_type_name(get_args(hint)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(hint) if a is not type(None))
    return "a value"


def _describe(value: Any) -> str:
    if isinstance(value, (dict, LocatedDict)):
        return "a mapping"
    if isinstance(value, (list, LocatedList)):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{value!r} ({type(value).__name__})"


def convert(value: Any, hint: Any, key: str, line: int, problems: Problems) -> tuple[bool, Any]:
    """Check ``value`` against ``hint``; returns (ok, converted value)."""
    origin = get_origin(hint)
    if hint is Any:
        return True, value
    if origin in (Union, types.UnionType):
        args = get_args(hint)
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is type(None):
                continue
            kind = get_origin(arg) or arg
            if kind is list and isinstance(value, list) or kind is dict and isinstance(value, dict):
                return convert(value, arg, key, line, problems)
        for arg in args:
            if arg is type(None) or (get_origin(arg) or arg) in (list, dict):
                continue
            trial = Problems(problems.path)
            ok, out = convert(value, arg, key, line, trial)
            if ok:
                return True, out
        problems.add(line, key, f"expected {_type_name(hint)}, got {_describe(value)}")
        return False, None
    if hint is bool:
        if isinstance(value, bool):
            return True, value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return True, value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _finite(float(value), key, line, problems)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return _finite(float(value), key, line, problems)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return True, value
    elif origin is Literal:
        choices = get_args(hint)
        if value in choices:
            return True, value
        problems.add(line, key, f"unknown value {value!r}" + did_you_mean(str(value), map(str, choices)))
        return False, None
    elif origin is list:
        if isinstance(value, list):
            (item_hint,) = get_args(hint)
            out, ok_all = [], True
            for i, item in enumerate(value):
                item_line = value.line_of(i) if isinstance(value, LocatedList) else line
                ok, conv = convert(item, item_hint, f"{key}[{i}]", item_line, problems)
                ok_all &= ok
                out.append(conv)
            return ok_all, out
    elif origin is dict:
        if isinstance(value, dict):
            _, value_hint = get_args(hint)
            out, ok_all = {}, True
            for k, item in value.items():
                item_line = value.line_of(k) if isinstance(value, LocatedDict) else line
                if not isinstance(k, str):
                    problems.add(item_line, key, f"keys must be strings, got {_describe(k)}")
                    ok_all = False
                    continue
                ok, conv = convert(item, value_hint, f"{key}.{k}", item_line, problems)
                ok_all &= ok
                out[k] = conv
            return ok_all, out
    elif dataclasses.is_dataclass(hint):
        if isinstance(value, dict):
            parsed = parse_into(hint, value, key, problems, line=line)
            return parsed is not None, parsed
    else:  # pragma: no cover - a programming error in a section's declaration
        raise TypeError(f"unsupported field type {hint!r} for {key}")
    problems.add(line, key, f"expected {_type_name(hint)}, got {_describe(value)}")
    return False, None


def _finite(value: float, key: str, line: int, problems: Problems) -> tuple[bool, Any]:
    if math.isfinite(value):
        return True, value
    problems.add(line, key, f"expected a finite number, got {value}")
    return False, None


def _check_bounds(value: Any, meta: dict, key: str, line: int, problems: Problems) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return True
    lo, hi = meta.get("min"), meta.get("max")
    lo_x, hi_x = meta.get("min_exclusive"), meta.get("max_exclusive")
    bad = (lo is not None and (value < lo or (lo_x and value == lo))) or \
          (hi is not None and (value > hi or (hi_x and value == hi)))
    if not bad:
        return True
    if lo is not None and hi is not None:
        rng = f"{'(' if lo_x else '['}{lo:g}, {hi:g}{')' if hi_x else ']'}"
        problems.add(line, key, f"must be in {rng}, got {value}")
    elif lo is not None:
        problems.add(line, key, f"must be {'>' if lo_x else '>='} {lo:g}, got {value}")
    else:
        problems.add(line, key, f"must be {'<' if hi_x else '<='} {hi:g}, got {value}")
    return False


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init and not f.metadata.get(EXTRA)]


def parse_into(cls: type, node: Any, key: str, problems: Problems,
               ignore: tuple[str, ...] = (), line: int | None = None) -> Any:
    """Build ``cls`` from ``node``; every problem goes to ``problems``.

    Keys in ``ignore`` are skipped (the caller handles them, e.g. ``type``). ``line`` is
    where the mapping is introduced (its key's line), used for missing keys.
    """
    if line is None:
        line = getattr(node, "line", 0)
    if not isinstance(node, dict):
        problems.add(line, key, f"expected a mapping, got {_describe(node)}")
        return None
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    extra_field = next((f for f in fields.values() if f.metadata.get(EXTRA)), None)
    known = field_names(cls)
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    lines: dict[str, int] = {}
    ok_all = True
    for k, value in node.items():
        k_line = node.line_of(k) if isinstance(node, LocatedDict) else line
        # a nested mapping is reported at its key's line, where the reader looks for it
        v_line = node.value_line_of(k) if isinstance(node, LocatedDict) and not isinstance(
            value, dict) else k_line
        sub = f"{key}.{k}" if key else str(k)
        if k in ignore:
            continue
        if k not in known:
            if extra_field is not None and isinstance(k, str):
                extra[k] = value
                lines[k] = k_line
                continue
            problems.add(k_line, sub, f"unknown key{did_you_mean(str(k), known)}")
            ok_all = False
            continue
        ok, conv = convert(value, hints[k], sub, v_line, problems)
        ok = ok and _check_bounds(conv, fields[k].metadata, sub, v_line, problems)
        ok_all &= ok
        kwargs[k] = conv
        lines[k] = v_line
    for name, f in fields.items():
        if f.metadata.get(EXTRA) or name in kwargs:
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if name in node:  # present but invalid: already reported
                continue
            problems.add(line, f"{key}.{name}" if key else name, "missing required key")
            ok_all = False
    if not ok_all:
        return None
    if extra_field is not None:
        kwargs[extra_field.name] = extra
    obj = cls(**kwargs)
    if isinstance(obj, Located):
        obj._lines = lines
        obj._line = line
        obj._key = key
    return obj


def document(cls: type) -> list[tuple[str, str, str, str]]:
    """(key, type, default, doc) rows describing ``cls`` — for documentation tables."""
    hints = get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.metadata.get(EXTRA):
            rows.append(("(other keys)", "any", "", f.metadata.get("doc", "")))
            continue
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "required"
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("doc", "")))
    return rows
