"""Extension settings: one config dataclass per schedule ``type``, and their registry.

An extension is a step a policy runs at the start of an epoch, after that epoch's
pruning (the runtime is :mod:`compressor.engine.extensions`):

``thinning``  physically remove every channel that structured pruning zeroed (in all
              producers and BatchNorms of its dependency group).
"""

from __future__ import annotations

import dataclasses

from .fields import Located, option
from .problems import Problems

__all__ = ["EXTENSION_TYPES", "ThinningConfig"]


@dataclasses.dataclass(kw_only=True)
class ThinningConfig(Located):
    min_channels: int = option(1, min=1, doc="channels every group keeps at least")

    def check(self, key: str, problems: Problems) -> None:
        """Nothing beyond types and bounds."""


EXTENSION_TYPES: dict[str, type[Located]] = {"thinning": ThinningConfig}
