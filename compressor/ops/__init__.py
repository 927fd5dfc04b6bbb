"""Typed wrappers of the C++ operators ``torch.ops.compressor.*``, one module per family.

Importing this package loads the extension ``compressor._C`` (once), which registers
every operator; then each family's wrappers register their fakes (meta kernels) next
to them. The modules mirror ``csrc/ops/<family>.cpp``:

* :mod:`.masks`       magnitude selection: ``magnitude_threshold``, ``magnitude_mask``,
                      ``global_magnitude_masks``, ``apply_mask_``
* :mod:`.structured`  structured criteria: ``structure_norms``, ``fpgm_scores``,
                      ``nm_mask``, ``block_mask``
* :mod:`.thinning`    the channel gather: ``gather_channels``
* :mod:`.sparse`      packed sparse inference: ``bsr_pack``, ``nm24_pack``,
                      ``bsr_linear``, ``nm24_linear``, ``bsr_conv2d``, ``nm24_conv2d``;
                      int8 weights: ``bsr_linear_w8``, ``nm24_linear_w8`` (float x),
                      ``quantize_activations``, ``bsr_linear_q8``, ``nm24_linear_q8``

All share one set of argument checks (:mod:`._checks`). ``cpu_isa()``,
``cpu_int8_isa()`` and ``version()`` describe the build.
"""

import torch  # noqa: F401  (loads libtorch before the extension that links it)

from .._C import cpu_int8_isa, cpu_isa, version  # importing the extension registers torch.ops.compressor.*
from .masks import apply_mask_, global_magnitude_masks, magnitude_mask, magnitude_threshold
from .sparse import (
    BLOCK_SHAPES,
    bsr_conv2d,
    bsr_linear,
    bsr_linear_q8,
    bsr_linear_w8,
    bsr_pack,
    conv2d_output_shape,
    nm24_conv2d,
    nm24_linear,
    nm24_linear_q8,
    nm24_linear_w8,
    nm24_pack,
    quantize_activations,
)
from .structured import block_mask, fpgm_scores, nm_mask, structure_norms
from .thinning import gather_channels

__all__ = [
    "BLOCK_SHAPES",
    "apply_mask_",
    "block_mask",
    "bsr_conv2d",
    "bsr_linear",
    "bsr_linear_q8",
    "bsr_linear_w8",
    "bsr_pack",
    "conv2d_output_shape",
    "cpu_int8_isa",
    "cpu_isa",
    "fpgm_scores",
    "gather_channels",
    "global_magnitude_masks",
    "magnitude_mask",
    "magnitude_threshold",
    "nm24_conv2d",
    "nm24_linear",
    "nm24_linear_q8",
    "nm24_linear_w8",
    "nm24_pack",
    "nm_mask",
    "quantize_activations",
    "structure_norms",
    "version",
]
