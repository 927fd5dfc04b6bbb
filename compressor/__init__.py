"""compressor: schedule-driven neural-network compression for PyTorch."""

import torch  # noqa: F401  (loads libtorch before the extension that links it)

from . import _C  # noqa: F401  (registers torch.ops.compressor.*)

__version__ = _C.version()


def load(path):
    """The model of a compressor checkpoint (thinned and sparse ones included), in eval mode."""
    from .io.spec import load as _load

    return _load(path)
