"""Compression under ``torch.distributed``: the same masks and the same thinning on
every rank of a DistributedDataParallel job.

* :func:`unwrap` — the scheduler works on the module inside a DDP wrapper (parameter
  names without ``module.``);
* :func:`broadcast_masks` — every pruning event ends with rank 0's masks on all ranks
  (the ranks compute them from the same weights, so they normally agree; broadcasting
  makes agreement a guarantee, whatever ties or floating-point order do);
* :func:`check_same` — a value every rank must agree on (a thinning recipe, a schedule)
  is compared by checksum; a difference stops every rank with one clear error;
* :func:`rebuild_ddp` — after thinning, the wrapper is rebuilt in place around the
  resized module (its gradient buckets were made for the old parameters), with the
  settings it had.

Outside a process group (or with one process) these do nothing.
"""

from __future__ import annotations

import hashlib
import json

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import CompressorError

__all__ = ["broadcast_masks", "check_same", "is_distributed", "rebuild_ddp", "unwrap"]


def is_distributed() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def unwrap(model: nn.Module) -> tuple[nn.Module, DistributedDataParallel | None]:
    """``(module, wrapper)``: the module a DDP wrapper holds and the wrapper, or
    ``(model, None)`` for a plain model."""
    if isinstance(model, DistributedDataParallel):
        return model.module, model
    return model, None


def _device_for_collectives(like: torch.Tensor) -> torch.device:
    # NCCL moves CUDA tensors only; gloo moves CPU tensors
    return like.device if dist.get_backend() != "gloo" else torch.device("cpu")


def broadcast_masks(masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rank 0's masks (same names on every rank, in the same order) on every rank."""
    if not is_distributed() or not masks:
        return masks
    out = {}
    for name, mask in masks.items():
        buffer = mask.to(_device_for_collectives(mask), torch.uint8).contiguous()
        dist.broadcast(buffer, src=0)
        out[name] = buffer.to(mask.device).bool()
    return out


def _digest(value: object) -> int:
    text = json.dumps(value, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:7], "big")


def check_same(value: object, what: str) -> None:
    """Raise CompressorError on every rank unless every rank has the same ``value``
    (plain data, compared by a checksum)."""
    if not is_distributed():
        return
    mine = torch.tensor([_digest(value)], dtype=torch.int64)
    low, high = mine.clone(), mine.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    if int(low) != int(high):
        raise CompressorError(f"rank {dist.get_rank()}: {what} differs between the ranks of the "
                              "distributed job; every rank must run the same schedule on the same "
                              "model")


def rebuild_ddp(wrapper: DistributedDataParallel) -> None:
    """Rebuild ``wrapper`` in place around its (resized) module, with its settings: new
    gradient buckets for the new parameters, module state broadcast from rank 0."""
    DistributedDataParallel.__init__(
        wrapper, wrapper.module, device_ids=wrapper.device_ids,
        output_device=wrapper.output_device, dim=wrapper.dim,
        forward_sync_buffers=wrapper.forward_sync_buffers, process_group=wrapper.process_group,
        find_unused_parameters=wrapper.find_unused_parameters,
        gradient_as_bucket_view=wrapper.gradient_as_bucket_view,
        static_graph=wrapper.static_graph,
        bucket_cap_mb=wrapper.bucket_bytes_cap / (1024 * 1024))
