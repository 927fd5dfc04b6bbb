"""What each op does to channels, for the dependency analysis (:mod:`.analysis`).

Module classes and function / method names are sorted by their effect on a tensor's
channel dimension: elementwise ops that keep a zero channel zero (``f(0) == 0``) or
not, per-channel spatial ops, reshapes, reductions, binary ops and concatenation. Any
op in none of these tables is opaque: the groups it touches are not prunable.
"""

from __future__ import annotations

import operator

import torch
import torch.fx
from torch import nn

__all__ = ["ADD", "CAT", "DIV", "HARDTANH", "MUL", "NONZERO_ELEMENTWISE",
           "NONZERO_ELEMENTWISE_MODULES", "REDUCE", "RESHAPE", "RESHAPE_MODULES", "SHAPE_QUERIES",
           "SPATIAL", "SPATIAL_MODULES", "ZERO_ELEMENTWISE", "ZERO_ELEMENTWISE_MODULES",
           "describe_node", "is_torch_op", "op_name"]

# Elementwise, f(0) == 0: channels pass through and a pruned (zero) channel stays zero.
ZERO_ELEMENTWISE_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish, nn.Tanh, nn.Softsign, nn.Tanhshrink, nn.Softshrink, nn.Hardshrink,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
# Elementwise with f(0) != 0: channels pass through, but a pruned channel is non-zero.
NONZERO_ELEMENTWISE_MODULES: tuple[type, ...] = (nn.Sigmoid, nn.Hardsigmoid, nn.Softplus,
                                                  nn.LogSigmoid)
# Per channel over the spatial dims (channel dim 1), zero stays zero.
SPATIAL_MODULES: tuple[type, ...] = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.LPPool1d, nn.LPPool2d, nn.Upsample,
    nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ReflectionPad1d, nn.ReflectionPad2d,
    nn.ReflectionPad3d, nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d,
    nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d,
)
RESHAPE_MODULES: tuple[type, ...] = (nn.Flatten, nn.Unflatten)

# Functions and methods by name (torch.*, torch.nn.functional.*, Tensor.*, operator.*).
ZERO_ELEMENTWISE = frozenset({
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
    "celu", "gelu", "silu", "mish", "hardswish", "tanh", "tanh_", "softsign", "dropout",
    "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "clone",
    "contiguous", "detach", "neg", "abs", "square", "to", "float", "double", "half", "bfloat16",
})
HARDTANH = frozenset({"hardtanh", "hardtanh_"})  # zero-preserving when min <= 0 <= max
NONZERO_ELEMENTWISE = frozenset({"sigmoid", "sigmoid_", "hardsigmoid", "softplus",
                                  "logsigmoid", "exp", "cos"})
SPATIAL = frozenset({
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "interpolate",
    "upsample", "lp_pool2d",
})
RESHAPE = frozenset({"flatten", "view", "reshape", "unflatten", "squeeze", "unsqueeze"})
REDUCE = frozenset({"mean", "sum", "amax", "amin"})
ADD = frozenset({"add", "add_", "iadd", "sub", "sub_", "isub"})
MUL = frozenset({"mul", "mul_", "imul"})
DIV = frozenset({"truediv", "itruediv", "div", "div_"})
CAT = frozenset({"cat", "concat", "concatenate"})
SHAPE_QUERIES = frozenset({"size", "dim", "numel", "getattr"})


def op_name(node: torch.fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


def is_torch_op(target: object) -> bool:
    if isinstance(target, str):
        return True  # a Tensor method
    module = getattr(target, "__module__", None) or ""
    return target in vars(operator).values() or module.startswith("torch") or (
        module == "builtins" and getattr(target, "__name__", "") == "getattr")


def describe_node(gm: torch.fx.GraphModule, node: torch.fx.Node) -> str:
    if node.op == "call_module":
        return f"module '{node.target}' ({type(gm.get_submodule(str(node.target))).__name__})"
    if node.op == "call_method":
        return f"Tensor.{node.target}() (node {node.name})"
    if node.op == "call_function":
        return f"{op_name(node)}() (node {node.name})"
    return f"{node.op} {node.target} (node {node.name})"
