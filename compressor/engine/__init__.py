"""The compression engine: what a training loop calls to prune, regularize and thin.

In the order things happen:

1. :mod:`.build`  a checked schedule (``compressor.schedule``) bound to a model:
   pruners (:mod:`.pruning`), regularizers (:mod:`.regularizers`), the optimizer and
   the lr schedulers; every pattern or argument that does not fit is a problem at its
   line;
2. :mod:`.scheduler`  ``CompressionScheduler``: the training loop's hooks run the
   policies (prune at the start of an epoch, add penalties before backward, re-apply
   masks after each optimizer step, step lr schedulers at the end of an epoch);
3. :mod:`.masks`  ``MaskStore``: the masks, kept applied with the fused C++ op;
4. :mod:`.extensions`  steps a policy runs after an epoch's pruning: thinning
   (:mod:`.thinning`: plan, resize, recipe, MACs);
5. :mod:`.sparsity`  measuring the sparsity reached.
"""

from .build import Bound, bind_components, build_lr_schedulers, build_optimizer
from .masks import MaskStore
from .scheduler import CompressionScheduler
from .sparsity import summarize

__all__ = ["Bound", "CompressionScheduler", "MaskStore", "bind_components", "build_lr_schedulers",
           "build_optimizer", "summarize"]
