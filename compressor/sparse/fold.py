"""Fold an eval-mode BatchNorm into the converted convolution before it.

``convert(..., fold_batchnorm=True)``. A ``BatchNorm2d`` in eval mode is an affine
map per channel, ``(x - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``.
When it reads a converted convolution's output and nothing else reads that output,
the convolution computes it: weight rows times ``s``, bias ``(b - mean) * s + beta``
(a pruned weight stays zero). The sparse kernel adds the bias in its epilogue, so
the BatchNorm's pass over the activations is gone; the BatchNorm becomes
``nn.Identity``.

The pairs come from a ``torch.fx`` trace of the model, because the forward of a
residual block calls ``bn1(conv1(x))`` in Python code, not in an ``nn.Sequential``.
A model that does not trace keeps its BatchNorms (the reason is reported).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.fx
from torch import nn

__all__ = ["BatchNormPairs", "batchnorm_pairs", "folded_conv"]


@dataclass
class BatchNormPairs:
    """The BatchNorms that may be folded: ``pairs[id(conv)] = (bn name, bn module)``;
    ``reason`` says why none could be looked for (the trace failed), else ""."""

    pairs: dict[int, tuple[str, nn.BatchNorm2d]]
    reason: str = ""


def _foldable_batchnorm(bn: nn.Module, conv: nn.Conv2d) -> bool:
    return (type(bn) is nn.BatchNorm2d and not bn.training and bn.running_mean is not None
            and bn.running_var is not None and bn.num_features == conv.out_channels
            and not bn._forward_hooks and not bn._forward_pre_hooks)


def batchnorm_pairs(model: nn.Module, convs: Iterable[nn.Conv2d]) -> BatchNormPairs:
    """Which of ``convs`` (submodules of ``model``) feed an eval-mode ``nn.BatchNorm2d``
    that reads only that conv's output, where the conv's output goes nowhere else and
    each module is called once."""
    wanted = {id(c) for c in convs}
    if not wanted:
        return BatchNormPairs({})
    try:
        graph = torch.fx.Tracer().trace(model)
    except Exception as exc:  # fx raises many types; each is a reason not to fold
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return BatchNormPairs({}, f"torch.fx cannot trace {type(model).__name__} "
                                  f"({type(exc).__name__}: {first[:200]})")
    modules = dict(model.named_modules(remove_duplicate=False))
    calls = Counter(id(modules[n.target]) for n in graph.nodes if n.op == "call_module")
    pairs: dict[int, tuple[str, nn.BatchNorm2d]] = {}
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        src = node.args[0]
        if not isinstance(src, torch.fx.Node) or src.op != "call_module" or len(src.users) != 1:
            continue
        bn, conv = modules[node.target], modules[src.target]
        if (id(conv) in wanted and calls[id(conv)] == 1 and calls[id(bn)] == 1
                and _foldable_batchnorm(bn, conv)):
            pairs[id(conv)] = (str(node.target), bn)
    return BatchNormPairs(pairs)


@torch.no_grad()
def folded_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A copy of ``conv`` (with a bias) that computes ``bn(conv(x))`` (``bn`` in eval mode)."""
    scale = bn.running_var.double().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, bias=True,
                    padding_mode=conv.padding_mode)
    w = conv.weight.detach().double()
    out.weight.copy_((w * scale.view(-1, 1, 1, 1)).float())
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(scale)
    out.bias.copy_((bias * scale + shift).float())
    return out
