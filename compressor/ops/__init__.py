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

All share one set of argument checks (:mod:`._checks`); the mask, criteria and gather
ops have torch implementations (:mod:`.reference`) for devices without a kernel.
``cpu_isa()``, ``cpu_int8_isa()`` and ``version()`` describe the build.

The extension is built against one torch minor version; importing it under another
raises ``ImportError`` saying which torch it needs (:func:`check_torch_version`).
"""

import torch  # (loads libtorch before the extension that links it)


def _minor(version: str) -> tuple[int, int]:
    parts = version.split("+")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (-1, -1)


def check_torch_version(built: str, running: str) -> None:
    """``ImportError`` unless ``running`` has the major.minor of ``built`` (torch versions)."""
    if _minor(built) != _minor(running):
        raise ImportError(
            f"compressor's C++ extension was built for torch {built}, but torch {running} is "
            f"installed; it runs with torch {'.'.join(map(str, _minor(built)))}.x only. Install that "
            "torch, or rebuild compressor against this one: pip install --no-build-isolation . "
            "(bash scripts/setup.sh in a checkout)")


try:
    from .. import _C  # importing the extension registers torch.ops.compressor.*
except ImportError as exc:
    raise ImportError(f"compressor's C++ extension cannot be loaded with torch {torch.__version__} "
                      f"({exc}); it is built for one torch minor version: rebuild it with "
                      "pip install --no-build-isolation . (bash scripts/setup.sh in a checkout)") from exc
check_torch_version(_C.torch_version(), torch.__version__)
cpu_isa, cpu_int8_isa, version = _C.cpu_isa, _C.cpu_int8_isa, _C.version
from .masks import apply_mask_, global_magnitude_masks, magnitude_mask, magnitude_threshold  # noqa: E402
from .sparse import (  # noqa: E402
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
from .structured import block_mask, fpgm_scores, nm_mask, structure_norms  # noqa: E402
from .thinning import gather_channels  # noqa: E402

__all__ = [
    "BLOCK_SHAPES",
    "apply_mask_",
    "check_torch_version",
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
