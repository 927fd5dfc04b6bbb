"""Pruners at run time: which weights to zero, epoch by epoch.

1. ``build_pruner(name, config, key, model, problems, groups, example_input)`` binds a
   pruner's settings (:mod:`compressor.schedule.pruners`) to the model's tensors;
   patterns that match nothing become problems at their line.
2. element criteria give a :class:`Pruner` (:mod:`.pruners`): masks by ``|w|`` per
   tensor or across tensors, blocks or N:M groups;
3. structured criteria give a :class:`StructuredPruner` (:mod:`.structured`): whole
   channels per dependency group (``compressor.graph``), zeroed so that thinning can
   remove them.
4. each active epoch the scheduler calls ``compute_masks(epoch, active)``, which
   reaches the config's ``target``.
"""

from .pruners import Pruner, build_pruner, resolve_weights
from .structured import StructuredPruner, group_scores, resolve_groups

__all__ = ["Pruner", "StructuredPruner", "build_pruner", "group_scores", "resolve_groups",
           "resolve_weights"]
