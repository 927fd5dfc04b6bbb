"""Multiply-accumulates and parameters per module: :func:`count_macs`."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

__all__ = ["TOTAL", "count_macs"]

TOTAL = "<total>"  # the key of the whole model's totals (no module can be named so by torch)


def _macs(module: nn.Module, output: torch.Tensor, batch: int) -> int:
    """Per sample: Conv out_h*out_w*out_c*(in_c/groups)*kh*kw, Linear in*out per position."""
    if isinstance(module, nn.modules.conv._ConvNd):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        if module.transposed:  # every input element meets every kernel tap of its group
            per_output = module.out_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() // batch * per_output
    if isinstance(module, nn.Linear):
        return output.numel() // batch * module.in_features
    return 0


def count_macs(model: nn.Module, example_input: torch.Tensor) -> dict[str, dict[str, int]]:
    """``{module name: {"macs": int, "params": int}}`` for every module that owns parameters
    or does multiply-accumulates, plus ``TOTAL`` (``"<total>"``): the sums (params: all of
    the model's parameters, each counted once).

    MACs are per sample (the example input's batch is divided out): a Conv's
    ``out_h*out_w*out_c*(in_c/groups)*kh*kw``, a Linear's ``in*out`` per output position;
    other modules count 0 (their parameters are still counted). A module called twice
    counts twice. The model runs on the meta device (no computation; nothing changes),
    falling back to one real forward without grad if an op has no meta kernel.
    """
    batch = example_input.shape[0] if example_input.dim() else 1
    counts: dict[str, dict[str, int]] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, args: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            counts[names[module]]["macs"] += _macs(module, output, max(batch, 1))

    handles = []
    for name, module in model.named_modules():
        params = sum(p.numel() for p in module.parameters(recurse=False))
        if params or isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
            counts[name] = {"macs": 0, "params": params}
            handles.append(module.register_forward_hook(hook))
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            try:
                tensors = {n: torch.empty_like(t, device="meta") for n, t in itertools.chain(
                    model.named_parameters(), model.named_buffers())}
                torch.func.functional_call(model, tensors,
                                           (torch.empty_like(example_input, device="meta"),))
            except (RuntimeError, NotImplementedError):
                for entry in counts.values():
                    entry["macs"] = 0
                model(example_input)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes:
            m.training = mode
    counts[TOTAL] = {"macs": sum(c["macs"] for c in counts.values()),
                     "params": sum(p.numel() for p in model.parameters())}
    return counts
