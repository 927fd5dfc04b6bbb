"""The argument checks every wrapper of ``torch.ops.compressor.*`` shares.

A wrapper rejects what never reaches a kernel with ``TypeError`` / ``ValueError``:
non-tensors, sparse layouts, tensors on a device without a kernel (unless the op has a
torch implementation in :mod:`.reference`), sizes and sparsities of the wrong Python
type. The kernels check dtypes, shapes and values themselves (``RuntimeError``). Every
message starts with ``compressor.<op>:`` and names the argument.

:func:`use_reference` decides, per call, whether an op runs its torch implementation:
for tensors on a device without a kernel (CUDA), and for every tensor when the
environment variable ``COMPRESSOR_REFERENCE_OPS`` is ``1``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence

import torch

__all__ = ["KERNEL_DEVICES", "REFERENCE_ENV", "REFERENCE_OPS", "check_int", "check_ints",
           "check_sparsity", "check_tensor", "kernel_devices", "use_reference"]

#: Set to 1, every op of ``REFERENCE_OPS`` runs its torch implementation (read on every call).
REFERENCE_ENV = "COMPRESSOR_REFERENCE_OPS"
#: The ops with a torch implementation in :mod:`.reference` (the sparse-kernel ops have none).
REFERENCE_OPS = frozenset({"magnitude_threshold", "magnitude_mask", "global_magnitude_masks",
                           "apply_mask_", "structure_norms", "fpgm_scores", "nm_mask", "block_mask",
                           "gather_channels"})


def kernel_devices(op: str) -> frozenset[str]:
    """Device types with a kernel for ``torch.ops.compressor.<op>`` ("meta": its fake)."""
    found = {"meta"}
    for device_type in ("cpu", "cuda", "xpu", "mps"):
        if torch._C._dispatch_has_kernel_for_dispatch_key(f"compressor::{op}",
                                                          device_type.upper()):
            found.add(device_type)
    return frozenset(found)


# Looked up once, for every compressor op: the extension registers all its kernels when
# it is imported, which compressor.ops does before it imports this module.
KERNEL_DEVICES = {name.split("::", 1)[1]: kernel_devices(name.split("::", 1)[1])
                  for name in torch._C._dispatch_get_all_op_names()
                  if name.startswith("compressor::")}
_CUDA_BUILT = any("cuda" in devices for devices in KERNEL_DEVICES.values())


def check_tensor(op: str, name: str, t: object, *, optional: bool = False) -> torch.Tensor | None:
    """``t`` itself when it is a dense tensor on a device with a kernel for ``op``
    (or None, when ``optional``)."""
    if t is None and optional:
        return None
    if not isinstance(t, torch.Tensor):
        kind = "a torch.Tensor or None" if optional else "a torch.Tensor"
        raise TypeError(f"compressor.{op}: {name} must be {kind}, got {type(t).__name__}")
    if t.layout != torch.strided:
        raise ValueError(f"compressor.{op}: {name} must be a dense (strided) tensor, "
                         f"got layout {t.layout}")
    if t.device.type not in KERNEL_DEVICES[op] and op not in REFERENCE_OPS:
        built = "with" if _CUDA_BUILT else "without"
        raise ValueError(f"compressor.{op}: {name} is on {t.device}, but compressor has no "
                         f"kernel for that device (built {built} CUDA); move it to the CPU")
    return t


def check_sparsity(op: str, sparsity: object) -> float:
    # bool is an int subclass; True as a sparsity is almost certainly a mistake.
    if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real):
        raise TypeError(f"compressor.{op}: sparsity must be a real number in [0, 1], "
                        f"got {type(sparsity).__name__}")
    return float(sparsity)


def check_int(op: str, name: str, value: object) -> int:
    """An int (a SymInt under tracing stays symbolic); bool is refused, as True as a size
    is almost certainly a mistake."""
    if isinstance(value, torch.SymInt):
        return value  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"compressor.{op}: {name} must be an int, got {type(value).__name__}")
    return int(value)


def check_ints(op: str, name: str, value: object, n: int) -> list[int]:
    """``n`` ints from one int (repeated) or a sequence of ``n``."""
    if isinstance(value, (int, torch.SymInt)) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != n:
        raise ValueError(f"compressor.{op}: {name} must be an int or a sequence of {n} ints, "
                         f"got {value!r}")
    return [check_int(op, f"{name}[{i}]", e) for i, e in enumerate(value)]


def _forced() -> bool:
    value = os.environ.get(REFERENCE_ENV, "")
    if value not in ("", "0", "1"):
        raise ValueError(f"{REFERENCE_ENV} must be 1 (torch implementations of the mask, criteria "
                         f"and gather ops) or 0 / unset (the C++ kernels), got {value!r}")
    return value == "1"


def use_reference(op: str, t: torch.Tensor) -> bool:
    """Whether ``op`` runs its torch implementation (:mod:`.reference`) on ``t``: on a device
    without a C++ kernel, or anywhere but the meta device when ``COMPRESSOR_REFERENCE_OPS=1``."""
    if op not in REFERENCE_OPS or t.device.type == "meta":
        return False
    return t.device.type not in KERNEL_DEVICES[op] or _forced()
