"""YAML loading that remembers where every key and value came from.

``yaml.safe_load`` forgets line numbers, but every schedule error must name the file
and line. This loader builds the same plain Python values as ``safe_load`` (it uses
the safe constructors only, so no tag can create arbitrary objects), except that
mappings and sequences are ``LocatedDict`` / ``LocatedList``, which carry the
1-based line of the node itself, of each key and of each item.
"""

from __future__ import annotations

from typing import Any

import yaml


class LocatedDict(dict):
    """A mapping from YAML with ``line`` and per-key ``key_lines``/``value_lines``."""

    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        """Line of ``key`` if present, else of the mapping itself."""
        return self.key_lines.get(key, self.line)

    def value_line_of(self, key: Any) -> int:
        return self.value_lines.get(key, self.line_of(key))


class LocatedList(list):
    """A sequence from YAML with ``line`` and per-item ``item_lines``."""

    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r} (first defined on line {first_line})")
        self.key = key
        self.line = line


class _LocatingLoader(yaml.SafeLoader):
    """SafeLoader whose containers record source lines; duplicate keys are errors."""

    def construct_yaml_map(self, node: yaml.MappingNode):  # type: ignore[override]
        data = LocatedDict()
        data.line = node.start_mark.line + 1
        yield data
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found an unhashable key", key_node.start_mark) from None
            line = key_node.start_mark.line + 1
            if key in data:
                raise DuplicateKeyError(key, line, data.key_lines[key])
            data[key] = self.construct_object(value_node, deep=True)
            data.key_lines[key] = line
            data.value_lines[key] = value_node.start_mark.line + 1

    def construct_yaml_seq(self, node: yaml.SequenceNode):  # type: ignore[override]
        data = LocatedList()
        data.line = node.start_mark.line + 1
        yield data
        for item in node.value:
            data.append(self.construct_object(item, deep=True))
            data.item_lines.append(item.start_mark.line + 1)


_LocatingLoader.add_constructor("tag:yaml.org,2002:map", _LocatingLoader.construct_yaml_map)
_LocatingLoader.add_constructor("tag:yaml.org,2002:seq", _LocatingLoader.construct_yaml_seq)


def load_located(text: str) -> Any:
    """Parse YAML text safely, returning located containers.

    Raises ``yaml.YAMLError`` (with ``problem_mark`` where PyYAML knows it, or
    ``DuplicateKeyError.line``) for malformed text.
    """
    return yaml.load(text, Loader=_LocatingLoader)  # noqa: S506 - a SafeLoader subclass
