"""Dependency groups from a torch.fx trace: :func:`find_groups`.

The model is traced with ``torch.fx`` and run once on the example input under
``ShapeProp`` (eval mode, no grad; every module's train/eval flag is restored), so
every node has a shape. Then each node's output gets a *channel map*: which group
each index of its channel dimension belongs to. A map is a dimension, a ``block`` (how
many consecutive entries of that dimension one channel spans: ``H*W`` after a
flatten) and a list of segments, each a whole group, in order (a concat joins
segments). Groups are merged with union-find where ops force equal indices
(residual add, elementwise mul).

Each segment also records whether it is exactly zero once its channels are pruned
(producer weights and bias zero, batchnorm weight and bias zero). A group is not
prunable when a pruned channel could still carry a non-zero value into a consumer
(e.g. after ``sigmoid``, which maps 0 to 0.5), or when it reaches an op the analysis
does not know, the network input or the model output, a grouped conv whose input and
output channel counts differ, a module called twice, or a parameter also used directly.
The reason is kept. A depthwise conv, and a grouped conv with as many input as output
channels, pass their input's groups through (conv group ``g`` reads and writes channel
block ``g``); a grouped conv's groups are then removed in whole conv groups
(``granularity``).
"""

from __future__ import annotations

import contextlib
import io
import math
import operator
import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from ..nn.scaling import SCALE, is_scaled
from .errors import GraphError
from .groups import ChannelGroup, Member

__all__ = ["find_groups"]

# ----------------------------------------------------------------------------- op tables

# Elementwise, f(0) == 0: channels pass through and a pruned (zero) channel stays zero.
_ZERO_ELEMENTWISE_MODULES: tuple[type, ...] = (
    nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish, nn.Tanh, nn.Softsign, nn.Tanhshrink, nn.Softshrink, nn.Hardshrink,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
# Elementwise with f(0) != 0: channels pass through, but a pruned channel is non-zero.
_NONZERO_ELEMENTWISE_MODULES: tuple[type, ...] = (nn.Sigmoid, nn.Hardsigmoid, nn.Softplus,
                                                  nn.LogSigmoid)
# Per channel over the spatial dims (channel dim 1), zero stays zero.
_SPATIAL_MODULES: tuple[type, ...] = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.LPPool1d, nn.LPPool2d, nn.Upsample,
    nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ReflectionPad1d, nn.ReflectionPad2d,
    nn.ReflectionPad3d, nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d,
    nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d,
)
_RESHAPE_MODULES: tuple[type, ...] = (nn.Flatten, nn.Unflatten)

# Functions and methods by name (torch.*, torch.nn.functional.*, Tensor.*, operator.*).
_ZERO_ELEMENTWISE = frozenset({
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_",
    "celu", "gelu", "silu", "mish", "hardswish", "tanh", "tanh_", "softsign", "dropout",
    "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "clone",
    "contiguous", "detach", "neg", "abs", "square", "to", "float", "double", "half", "bfloat16",
})
_HARDTANH = frozenset({"hardtanh", "hardtanh_"})  # zero-preserving when min <= 0 <= max
_NONZERO_ELEMENTWISE = frozenset({"sigmoid", "sigmoid_", "hardsigmoid", "softplus",
                                  "logsigmoid", "exp", "cos"})
_SPATIAL = frozenset({
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "interpolate",
    "upsample", "lp_pool2d",
})
_RESHAPE = frozenset({"flatten", "view", "reshape", "unflatten", "squeeze", "unsqueeze"})
_REDUCE = frozenset({"mean", "sum", "amax", "amin"})
_ADD = frozenset({"add", "add_", "iadd", "sub", "sub_", "isub"})
_MUL = frozenset({"mul", "mul_", "imul"})
_DIV = frozenset({"truediv", "itruediv", "div", "div_"})
_CAT = frozenset({"cat", "concat", "concatenate"})
_SHAPE_QUERIES = frozenset({"size", "dim", "numel", "getattr"})


def _op_name(node: torch.fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target))


def _is_torch_op(target: object) -> bool:
    if isinstance(target, str):
        return True  # a Tensor method
    module = getattr(target, "__module__", None) or ""
    return target in vars(operator).values() or module.startswith("torch") or (
        module == "builtins" and getattr(target, "__name__", "") == "getattr")


# ----------------------------------------------------------------------------- channel maps

@dataclass(frozen=True)
class _Seg:
    group: int
    nonzero: str | None  # why a pruned channel is not exactly zero here (None: it is zero)


@dataclass(frozen=True)
class _Map:
    dim: int
    block: int
    segs: tuple[_Seg, ...]


class _Groups:
    """Union-find over groups; the root holds members, reasons and depthwise convs."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.members: list[list[Member]] = []
        self.reasons: list[list[str]] = []
        self.depthwise: list[list[str]] = []
        self.granularity: list[int] = []

    def new(self, size: int, reason: str | None = None) -> int:
        gid = len(self.parent)
        self.parent.append(gid)
        self.size.append(size)
        self.members.append([])
        self.reasons.append([reason] if reason else [])
        self.depthwise.append([])
        self.granularity.append(1)
        return gid

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        if b < a:
            a, b = b, a  # the older group is the root: stable ids in graph order
        self.parent[b] = a
        for lists in (self.members, self.reasons, self.depthwise):
            lists[a].extend(lists[b])
            lists[b] = []
        self.granularity[a] = math.lcm(self.granularity[a], self.granularity[b])
        return a

    def block(self, g: int, reason: str) -> None:
        self.reasons[self.find(g)].append(reason)

    def add(self, g: int, member: Member) -> None:
        self.members[self.find(g)].append(member)


# ----------------------------------------------------------------------------- tracing

class _Tracer(torch.fx.Tracer):
    """Records which module was being traced when tracing failed."""

    def __init__(self, leaf_modules: tuple[type, ...]) -> None:
        super().__init__()
        self.leaf_types = leaf_modules
        self.stack: list[str] = []
        self.failed_in: list[str] | None = None

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (isinstance(m, self.leaf_types) or is_scaled(m)
                or super().is_leaf_module(m, module_qualified_name))

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        self.stack.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = list(self.stack)
            raise
        finally:
            self.stack.pop()


_TORCH_DIR = os.path.dirname(torch.__file__)


def _user_frame(exc: BaseException) -> str:
    """``file:line: code`` of the innermost frame outside torch, or ""."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_TORCH_DIR) and f.filename != __file__]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.filename}:{f.lineno}: `{(f.line or '').strip()}`"


def _trace(model: nn.Module, leaf_modules: tuple[type, ...]) -> torch.fx.GraphModule:
    tracer = _Tracer(leaf_modules)
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # fx raises many types; each becomes one user-facing error
        path = tracer.failed_in[-1] if tracer.failed_in else ""
        where = (f"module '{path}' ({type(model.get_submodule(path)).__name__})" if path
                 else f"the forward of {type(model).__name__}")
        frame = _user_frame(exc)
        raise GraphError(
            f"torch.fx cannot trace {type(model).__name__}: it failed in {where}"
            f"{' at ' + frame if frame else ''}: {type(exc).__name__}: {exc}. Channel groups "
            "need a symbolically traceable forward: remove Python control flow that depends "
            "on tensor values from that module, or pass its class in "
            "find_groups(..., leaf_modules=[...]) so it is treated as one opaque op (its "
            "channels are then not prunable)"
        ) from exc
    return torch.fx.GraphModule(tracer.root, graph, type(model).__name__)


class _ShapeProp(ShapeProp):
    failed: torch.fx.Node | None = None

    def run_node(self, n: torch.fx.Node) -> Any:
        try:
            return super().run_node(n)
        except Exception:
            self.failed = self.failed or n
            raise


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _propagate(gm: torch.fx.GraphModule, model: nn.Module, example_input: torch.Tensor) -> None:
    prop = _ShapeProp(gm)
    # ShapeProp prints a traceback to stderr before re-raising; the GraphError says it all.
    with _eval_mode(model), torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        try:
            prop.propagate(example_input)
        except Exception as exc:
            node = prop.failed
            what = _describe_node(gm, node) if node is not None else "the model"
            cause = exc.__cause__ or exc
            raise GraphError(
                f"running {type(model).__name__} on the example input of shape "
                f"{tuple(example_input.shape)} failed at {what}: {type(cause).__name__}: "
                f"{cause}. Pass an input the model accepts (batch, channels, height, width "
                "on the model's device and dtype)"
            ) from exc


def _describe_node(gm: torch.fx.GraphModule, node: torch.fx.Node) -> str:
    if node.op == "call_module":
        return f"module '{node.target}' ({type(gm.get_submodule(str(node.target))).__name__})"
    if node.op == "call_method":
        return f"Tensor.{node.target}() (node {node.name})"
    if node.op == "call_function":
        return f"{_op_name(node)}() (node {node.name})"
    return f"{node.op} {node.target} (node {node.name})"


# ----------------------------------------------------------------------------- analysis

def _shape(arg: object) -> torch.Size | None:
    if isinstance(arg, torch.fx.Node):
        meta = arg.meta.get("tensor_meta")
        if isinstance(meta, TensorMetadata):
            return meta.shape
    return None


def _nodes_in(args: object) -> list[torch.fx.Node]:
    found: list[torch.fx.Node] = []
    torch.fx.node.map_arg(args, lambda n: found.append(n) or n)
    return found


def _normalize_dims(dims: object, ndim: int) -> list[int] | None:
    if isinstance(dims, int):
        dims = [dims]
    if not isinstance(dims, (list, tuple)) or not all(isinstance(d, int) for d in dims):
        return None
    return [d % ndim for d in dims]


class _Analysis:
    def __init__(self, gm: torch.fx.GraphModule, model: nn.Module) -> None:
        self.gm = gm
        self.model = model
        self.g = _Groups()
        self.maps: dict[torch.fx.Node, _Map | None] = {}
        calls: dict[str, int] = {}
        for node in gm.graph.nodes:
            if node.op == "call_module":
                calls[node.target] = calls.get(node.target, 0) + 1
        self.calls = calls
        self.direct_uses: list[str] = []  # get_attr targets

    # -- helpers
    def seg_size(self, seg: _Seg) -> int:
        return self.g.size[self.g.find(seg.group)]

    def positions(self, m: _Map) -> Iterator[tuple[int, _Seg]]:
        pos = 0
        for seg in m.segs:
            yield pos, seg
            pos += self.seg_size(seg)

    def input_map(self, arg: object) -> _Map | None:
        return self.maps.get(arg) if isinstance(arg, torch.fx.Node) else None

    def block_map(self, m: _Map | None, reason: str) -> None:
        if m is not None:
            for seg in m.segs:
                self.g.block(seg.group, reason)

    def fresh(self, node: torch.fx.Node, reason: str | None = None, nonzero: str | None = None,
              ) -> _Map | None:
        """A new group, not prunable, for the channel dim (1) of the node's output."""
        shape = _shape(node)
        if shape is None or len(shape) < 2:
            return None
        what = _describe_node(self.gm, node)
        gid = self.g.new(shape[1], reason or f"channels made by {what}, not by a Conv or Linear")
        return _Map(1, 1, (_Seg(gid, nonzero),))

    def opaque(self, node: torch.fx.Node, why: str = "is not supported by the channel "
               "dependency analysis") -> _Map | None:
        what = _describe_node(self.gm, node)
        for arg in _nodes_in((node.args, node.kwargs)):
            self.block_map(self.maps.get(arg), f"reaches {what}, which {why}")
        return self.fresh(node, f"made by {what}, which {why}", nonzero=f"made by {what}")

    def check_zero(self, m: _Map, consumer: str) -> None:
        for seg in m.segs:
            if seg.nonzero is not None:
                self.g.block(seg.group, f"a pruned channel reaches {consumer} non-zero "
                                        f"({seg.nonzero})")

    @staticmethod
    def with_nonzero(m: _Map, why: str | None) -> _Map:
        if why is None:
            return m
        return _Map(m.dim, m.block, tuple(_Seg(s.group, s.nonzero or why) for s in m.segs))

    # -- the walk
    def run(self) -> None:
        for node in self.gm.graph.nodes:
            self.maps[node] = self.visit(node)
        self.block_shared_parameters()

    def visit(self, node: torch.fx.Node) -> _Map | None:
        if node.op == "placeholder":
            return self.fresh(node, "network input channels")
        if node.op == "get_attr":
            self.direct_uses.append(str(node.target))
            return None
        if node.op == "output":
            for arg in _nodes_in(node.args):
                self.block_map(self.maps.get(arg), "reaches the model output")
            return None
        if node.op == "call_module":
            return self.visit_module(node)
        return self.visit_function(node)

    def visit_module(self, node: torch.fx.Node) -> _Map | None:
        name = str(node.target)
        m = self.gm.get_submodule(name)
        x = self.input_map(node.args[0]) if node.args else None
        has_params = any(True for _ in m.parameters(recurse=False))
        if has_params and self.calls[name] > 1:
            return self.opaque(node, f"is called {self.calls[name]} times (shared weights)")
        if isinstance(m, nn.modules.conv._ConvNd) and not m.transposed:
            return self.conv(node, name, m, x)
        if isinstance(m, nn.Linear):
            return self.linear(node, name, m, x)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return self.batchnorm(node, name, m, x)
        if has_params or len(node.args) != 1 or node.kwargs or _shape(node) is None:
            return self.opaque(node)
        if x is None:
            return self.fresh(node)
        if isinstance(m, nn.Hardtanh):  # ReLU6 too
            return x if m.min_val <= 0 <= m.max_val else self.with_nonzero(x, f"{name} maps 0 "
                                                                             "elsewhere")
        if isinstance(m, _ZERO_ELEMENTWISE_MODULES):
            return x
        if isinstance(m, _NONZERO_ELEMENTWISE_MODULES):
            return self.with_nonzero(x, f"{name} ({type(m).__name__}) maps 0 elsewhere")
        if isinstance(m, _SPATIAL_MODULES):
            return self.spatial(node, x)
        if isinstance(m, (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)):
            out = self.spatial(node, x)
            return out if m.value == 0 or out is None else self.with_nonzero(out, f"{name} pads "
                                                                                 "with a constant")
        if isinstance(m, _RESHAPE_MODULES):
            return self.reshape(node, x)
        return self.opaque(node)

    def visit_function(self, node: torch.fx.Node) -> _Map | None:
        name = _op_name(node)
        inputs = [n for n in _nodes_in((node.args, node.kwargs)) if self.maps.get(n) is not None]
        if not _is_torch_op(node.target):
            return self.opaque(node) if inputs else self.fresh(node)
        if name in _SHAPE_QUERIES and _shape(node) is None:
            return None
        if not inputs:
            return self.fresh(node)  # e.g. torch.zeros(...): channels nobody prunes
        first = node.args[0] if node.args else None
        x = self.input_map(first)
        if name in _CAT:
            return self.cat(node)
        if name in _ADD | _MUL | _DIV:
            return self.binary(node, name)
        if x is None or _shape(node) is None or len(inputs) != 1:
            return self.opaque(node)
        if name in _ZERO_ELEMENTWISE:
            return x
        if name in _HARDTANH:
            low = node.args[1] if len(node.args) > 1 else node.kwargs.get("min_val", -1.0)
            high = node.args[2] if len(node.args) > 2 else node.kwargs.get("max_val", 1.0)
            return x if low <= 0 <= high else self.with_nonzero(x, f"{name}() maps 0 elsewhere")
        if name in _NONZERO_ELEMENTWISE:
            return self.with_nonzero(x, f"{name}() maps 0 elsewhere")
        if name in _SPATIAL:
            return self.spatial(node, x)
        if name in _RESHAPE:
            return self.reshape(node, x)
        if name in _REDUCE:
            return self.reduce(node, x)
        return self.opaque(node)

    # -- layers
    def conv(self, node: torch.fx.Node, name: str, m: nn.modules.conv._ConvNd,
             x: _Map | None) -> _Map | None:
        if x is not None and (x.dim != 1 or x.block != 1):
            self.block_map(x, f"reaches {name} in an unsupported layout")
            x = None
        depthwise = m.groups > 1 and m.groups == m.in_channels == m.out_channels
        width = m.in_channels // m.groups  # channels per conv group
        # A grouped conv with in == out maps channel block g to block g: it passes its
        # input's groups through, when each of them holds whole conv groups.
        grouped = (m.groups > 1 and not depthwise and m.in_channels == m.out_channels
                   and x is not None and all(pos % width == 0 and self.seg_size(seg) % width == 0
                                             for pos, seg in self.positions(x)))
        if (depthwise or grouped) and x is not None:
            # Output channel c depends on input channel c (depthwise) or on c's conv group.
            for pos, seg in self.positions(x):
                for tensor in _producer_tensors(m):
                    self.g.add(seg.group, Member(name, tensor, "producer", 0, pos))
            for seg in x.segs:
                root = self.g.find(seg.group)
                self.g.depthwise[root].append(name)
                self.g.granularity[root] = math.lcm(self.g.granularity[root], width)
            return _Map(1, 1, tuple(_Seg(s.group, None) for s in x.segs))
        reason = None
        if m.groups > 1:
            reason = (f"{name} is a grouped conv (groups={m.groups}, {m.in_channels} → "
                      f"{m.out_channels} channels): its channels could only be removed in "
                      "equal numbers per conv group (supported only with as many input as "
                      "output channels, whole conv groups per dependency group)")
            self.block_map(x, reason)
        elif x is not None:
            self.check_zero(x, name)
            for pos, seg in self.positions(x):
                self.g.add(seg.group, Member(name, "weight", "consumer", 1, pos))
        return self.producer(name, m, m.out_channels, 1, reason)

    def linear(self, node: torch.fx.Node, name: str, m: nn.Linear, x: _Map | None) -> _Map | None:
        in_shape = _shape(node.args[0])
        out_shape = _shape(node)
        if out_shape is None or in_shape is None:
            return self.opaque(node)
        if x is not None:
            if x.dim != len(in_shape) - 1:
                self.block_map(x, f"reaches {name} on a dimension it does not consume")
            else:
                self.check_zero(x, name)
                for pos, seg in self.positions(x):
                    self.g.add(seg.group, Member(name, "weight", "consumer", 1, pos * x.block,
                                                 x.block))
        return self.producer(name, m, m.out_features, len(out_shape) - 1)

    def producer(self, name: str, m: nn.Module, channels: int, dim: int,
                 reason: str | None = None) -> _Map:
        gid = self.g.new(channels, reason)
        for tensor in _producer_tensors(m):
            self.g.add(gid, Member(name, tensor, "producer", 0))
        return _Map(dim, 1, (_Seg(gid, None),))

    def batchnorm(self, node: torch.fx.Node, name: str, m: nn.modules.batchnorm._BatchNorm,
                  x: _Map | None) -> _Map | None:
        if x is None:
            return self.fresh(node)
        if x.dim != 1:
            return self.opaque(node, "normalizes another dimension than the channels")
        tensors = [t for t in ("weight", "bias", "running_mean", "running_var", SCALE)
                   if getattr(m, t, None) is not None]
        for pos, seg in self.positions(x):
            for t in tensors:
                self.g.add(seg.group, Member(name, t, "batchnorm", 0, pos * x.block, x.block))
        # With weight and bias zero the output is zero whatever comes in.
        nonzero = None if m.affine else f"{name} has no affine weight and bias to zero"
        return _Map(x.dim, x.block, tuple(_Seg(s.group, nonzero) for s in x.segs))

    # -- data movement
    def spatial(self, node: torch.fx.Node, x: _Map) -> _Map | None:
        if x.dim != 1 or x.block != 1:
            return self.opaque(node, "works on the channel dimension of this tensor")
        return x

    def reshape(self, node: torch.fx.Node, x: _Map) -> _Map | None:
        in_shape, out_shape = _shape(node.args[0]), _shape(node)
        if in_shape is None or out_shape is None:
            return self.opaque(node)
        lead = math.prod(in_shape[:x.dim])
        channels = in_shape[x.dim]
        for d in range(len(out_shape)):
            if math.prod(out_shape[:d]) != lead:
                continue
            # The channel dim survives whole, possibly merged with the dims after it.
            for j in range(x.dim + 1, len(in_shape) + 1):
                merged = math.prod(in_shape[x.dim + 1:j])
                if channels * merged == out_shape[d]:
                    return _Map(d, x.block * merged, x.segs)
        return self.opaque(node, "splits or mixes the channel dimension")

    def reduce(self, node: torch.fx.Node, x: _Map) -> _Map | None:
        in_shape = _shape(node.args[0])
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        dims = _normalize_dims(dims, len(in_shape)) if in_shape is not None else None
        if dims is None or not all(d > x.dim for d in dims) or x.block != 1:
            return self.opaque(node, "reduces over the channel dimension")
        return x

    def cat(self, node: torch.fx.Node) -> _Map | None:
        tensors = node.args[0] if node.args else node.kwargs.get("tensors")
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        out_shape = _shape(node)
        if not isinstance(tensors, (list, tuple)) or not isinstance(dim, int) or out_shape is None:
            return self.opaque(node)
        maps = [self.input_map(t) for t in tensors]
        dim %= len(out_shape)
        if any(m is None or m.dim != maps[0].dim or m.block != maps[0].block for m in maps):
            return self.opaque(node, "joins tensors with different channel layouts")
        if dim == maps[0].dim:
            return _Map(dim, maps[0].block, tuple(s for m in maps for s in m.segs))
        out = maps[0]
        for m in maps[1:]:
            out = self.unify(node, out, m, lambda a, b: a or b)
        return out

    def binary(self, node: torch.fx.Node, name: str) -> _Map | None:
        if len(node.args) < 2:
            return self.opaque(node)
        a, b = node.args[0], node.args[1]
        ma, mb = self.input_map(a), self.input_map(b)
        out_shape = _shape(node)
        if out_shape is None:
            return self.opaque(node)
        what = _describe_node(self.gm, node)

        def combine(za: str | None, zb: str | None) -> str | None:
            if name in _ADD:
                return za or zb
            if name in _MUL:
                return None if za is None or zb is None else za
            return za  # division: zero only through the numerator

        if ma is not None and mb is not None:
            sa, sb = _shape(a), _shape(b)
            da, db = len(out_shape) - len(sa) + ma.dim, len(out_shape) - len(sb) + mb.dim
            if da == db and ma.block == mb.block and sa[ma.dim] == sb[mb.dim]:
                out = self.unify(node, ma, mb, combine)
                return _Map(da, out.block, out.segs)
            for small, big, s, s_big in ((ma, mb, sa, sb), (mb, ma, sb, sa)):
                if s[small.dim] == 1:  # one channel broadcast over the other's channels
                    self.block_map(small, f"is broadcast over other channels by {what}")
                    keep = name in _MUL or name in _DIV and big is ma
                    d = len(out_shape) - len(s_big) + big.dim
                    return self.with_nonzero(_Map(d, big.block, big.segs),
                                             None if keep else f"{what} adds to it")
            return self.opaque(node, "combines tensors with different channel layouts")
        x, other, x_first = (ma, b, True) if ma is not None else (mb, a, False)
        shape = _shape(other)
        if shape is not None:  # a tensor without channel map: broadcast over channels only
            x_shape = _shape(a if x_first else b)
            offset = len(shape) - len(x_shape) + x.dim
            if 0 <= offset < len(shape) and shape[offset] != 1:
                return self.opaque(node, "combines the channels with a per-channel constant")
            nonzero = f"{what} adds a tensor" if name in _ADD else None
        elif isinstance(other, (int, float)) and name in _ADD:
            nonzero = None if other == 0 else f"{what} adds a constant"
        elif isinstance(other, (int, float)):
            nonzero = None
        else:
            return self.opaque(node)
        if name in _DIV and not x_first:
            nonzero = f"{what} divides by it"
        x_dim = len(out_shape) - len(_shape(a if x_first else b)) + x.dim
        return self.with_nonzero(_Map(x_dim, x.block, x.segs), nonzero)

    def unify(self, node: torch.fx.Node, a: _Map, b: _Map,
              combine: Callable[[str | None, str | None], str | None]) -> _Map:
        sizes_a = [self.seg_size(s) for s in a.segs]
        sizes_b = [self.seg_size(s) for s in b.segs]
        if sizes_a != sizes_b:
            what = _describe_node(self.gm, node)
            reason = (f"{what} combines channel ranges that do not line up "
                      f"({sizes_a} vs {sizes_b})")
            self.block_map(a, reason)
            self.block_map(b, reason)
            return self.with_nonzero(a, reason)
        segs = []
        for sa, sb in zip(a.segs, b.segs):
            root = self.g.union(sa.group, sb.group)
            segs.append(_Seg(root, combine(sa.nonzero, sb.nonzero)))
        return _Map(a.dim, a.block, tuple(segs))

    def block_shared_parameters(self) -> None:
        """Tensors of members that are also used elsewhere cannot change shape alone."""
        names: dict[int, list[str]] = {}
        for n, t in self.model.named_parameters(remove_duplicate=False):
            names.setdefault(id(t), []).append(n)
        shared = {n: ns for ns in names.values() if len(ns) > 1 for n in ns}
        direct = set(self.direct_uses)
        for root in range(len(self.g.parent)):
            for member in self.g.members[root]:
                if member.name in shared:
                    others = ", ".join(n for n in shared[member.name] if n != member.name)
                    self.g.block(root, f"{member.name} is shared with {others}")
                elif member.name in direct:
                    self.g.block(root, f"{member.name} is also used directly in forward")

    # -- result
    def groups(self) -> list[ChannelGroup]:
        result: list[ChannelGroup] = []
        for root in range(len(self.g.parent)):
            if self.g.find(root) != root or not self.g.members[root]:
                continue
            members = _dedupe(self.g.members[root])
            reasons = list(dict.fromkeys(self.g.reasons[root]))
            if not reasons and not any(m.role == "producer" for m in members):
                reasons.append("no producer")
            result.append(ChannelGroup(
                id=len(result), channels=self.g.size[root], members=tuple(members),
                prunable=not reasons, reason="; ".join(reasons),
                depthwise=tuple(dict.fromkeys(self.g.depthwise[root])),
                granularity=self.g.granularity[root]))
        return result


def _producer_tensors(m: nn.Module) -> list[str]:
    """The tensors of a Conv / Linear indexed by its output channels on axis 0."""
    return [t for t in ("weight", "bias", SCALE) if getattr(m, t, None) is not None]


def _dedupe(members: Iterable[Member]) -> list[Member]:
    return list(dict.fromkeys(members))


def find_groups(model: nn.Module, example_input: torch.Tensor, *,
                leaf_modules: Iterable[type] = ()) -> list[ChannelGroup]:
    """The channel groups of ``model``, found by tracing it with ``torch.fx`` and running it
    once on ``example_input`` (in eval mode, without grad; train/eval flags are restored).

    Every group with at least one member is returned, prunable or not (see
    ``ChannelGroup.reason``); ids are list positions, in graph order. Groups describe the
    model as it is now: after thinning, call ``find_groups`` again.

    Args:
        model: the network (Conv1d/2d/3d, Linear and BatchNorm modules are understood;
            other leaf modules and unknown ops make the groups they touch not prunable).
        example_input: one input batch (a small one is enough, e.g. 1x3x64x64).
        leaf_modules: module classes to treat as opaque ops instead of tracing into them
            (the fix for a submodule torch.fx cannot trace).

    Raises:
        GraphError: torch.fx cannot trace the model (the message names the module and
            source line) or the model fails on the example input (names the op).
    """
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"example_input must be a torch.Tensor, got {type(example_input).__name__}")
    gm = _trace(model, tuple(leaf_modules))
    _propagate(gm, model, example_input)
    analysis = _Analysis(gm, model)
    analysis.run()
    return analysis.groups()
