"""Schedule files: YAML → typed, checked sections (see README "Schedule reference").

The loader imports the component registries (pruners, regularizers), which in turn
declare their settings with ``schedule.fields``; the public names are therefore
resolved lazily to keep that import order acyclic.
"""

from importlib import import_module

_EXPORTS = {
    "Component": "loader", "Schedule": "loader", "read_schedule": "loader",
    "read_schedule_file": "loader", "Problem": "problems", "Problems": "problems",
    "ScheduleError": "problems",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
