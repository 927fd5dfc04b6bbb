"""The schedule language: a YAML file → typed, checked sections (reference: docs/schedule.md).

In reading order:

1. :mod:`.located_yaml`  a safe YAML loader that keeps every key's line and refuses
   duplicate keys;
2. :mod:`.fields`, :mod:`.problems`  the generic declarative parser: dataclass fields
   with bounds and docs, every mistake collected with its line and a did-you-mean;
3. :mod:`.sections`  ``model``, ``data``, ``training`` and ``policies``;
4. the components, each a config dataclass per ``type`` and a registry by type name:
   :mod:`.pruners` (sparsity targets from :mod:`.ramps`), :mod:`.regularizers`,
   :mod:`.extensions`;
5. :mod:`.loader`  ``read_schedule(path)`` → ``(Schedule, Problems)``.

Nothing here touches a model: binding the schedule to one is ``compressor.engine``.
"""

from .loader import Component, Schedule, read_schedule, read_schedule_file
from .problems import Problem, Problems, ScheduleError

__all__ = ["Component", "Problem", "Problems", "Schedule", "ScheduleError", "read_schedule",
           "read_schedule_file"]
