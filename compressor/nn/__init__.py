"""Layers and layer changes that stay ordinary ``torch.nn`` modules.

:mod:`.scaling`: learned per-channel scaling factors. ``attach_scaling_factors``
gives chosen Conv2d / Linear / BatchNorm modules a trainable ``scale`` (the ``SCALE``
parameter) multiplied into their output; training with L1 on the factors, pruning by
``|scale|`` and thinning follow; ``fold_scaling_factors`` multiplies them into the
weights for inference.
"""

from .scaling import (
    SCALE,
    ScalingError,
    attach_scaling_factors,
    base_class,
    fold_scaling_factors,
    is_scaled,
    load_with_new_scales,
    resolve_scalable,
    scalable_reason,
    scaled_modules,
)

__all__ = ["SCALE", "ScalingError", "attach_scaling_factors", "base_class", "fold_scaling_factors",
           "is_scaled", "load_with_new_scales", "resolve_scalable", "scalable_reason",
           "scaled_modules"]
