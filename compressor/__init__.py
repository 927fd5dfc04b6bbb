"""compressor: schedule-driven neural-network compression for PyTorch.

The public API (see docs/api.md):

* ``file_config(model, optimizer, schedule, example_inputs=...)``: a schedule bound to
  your own model; its hooks run pruning, regularization, thinning and lr schedules
  from your own training loop;
* ``prune``, ``thin``: one-shot pruning and thinning; ``save``, ``load``: plain-data
  checkpoints of any model (``load(path)`` also rebuilds every checkpoint ``compress``
  writes);
* ``ScheduleError`` (every problem of a schedule, with file:line:key),
  ``CompressorError`` (any user mistake), ``CheckpointError``.

The package, in dependency order (a layer imports only the layers above it here):

* ``errors``, ``patterns``, ``nn`` (learned scaling factors), ``ops`` (the C++
  operators ``torch.ops.compressor.*``), ``schedule`` (the schedule language);
* ``graph``: channel dependency groups from a torch.fx trace;
* ``engine``: what a training loop calls: scheduler hooks, pruners, regularizers,
  masks, thinning;
* ``models``, ``data``, ``sparse`` (packed sparse-kernel layers, ``convert``);
* ``io``: checkpoints and the models rebuilt from them (``load``);
* ``runner`` (the command line's built-in training harness), ``bench``
  (``compress bench``);
* ``cli``: the ``compress`` command (also ``python -m compressor``).
"""

from . import ops  # loads the C++ extension compressor._C: registers torch.ops.compressor.*
from .api import file_config, load, prune, save, thin
from .engine.scheduler import CompressionScheduler
from .errors import CheckpointError, CompressorError
from .schedule.problems import ScheduleError

__version__ = ops.version()

__all__ = ["CheckpointError", "CompressionScheduler", "CompressorError", "ScheduleError",
           "file_config", "load", "prune", "save", "thin"]
