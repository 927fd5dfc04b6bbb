"""The channel dependency analysis of a traced graph: :func:`channel_groups`.

Each node's output gets a channel map (:mod:`.channel_map`): which group each index of
its channel dimension belongs to, found from the op (:mod:`.op_tables`). Convs, Linears
and BatchNorms add their tensors to the groups as producers, consumers and batchnorm
members.

A group is not prunable when a pruned channel could still carry a non-zero value into
a consumer (e.g. after ``sigmoid``, which maps 0 to 0.5), or when it reaches an op the
analysis does not know, the network input or the model output, a grouped conv whose
input and output channel counts differ, a module called twice, or a parameter also
used directly. The reason is kept. A depthwise conv, and a grouped conv with as many
input as output channels, pass their input's groups through (conv group ``g`` reads
and writes channel block ``g``); a grouped conv's groups are then removed in whole
conv groups (``granularity``).

Size: one class over 400 lines, the walk over the graph; its methods share the map
of every node and the union-find, and each handles one kind of op.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import TensorMetadata

from ..nn.scaling import SCALE
from .channel_map import ChannelMap, GroupUnion, Segment
from .groups import ChannelGroup, Member
from .op_tables import (
    ADD,
    CAT,
    DIV,
    HARDTANH,
    MUL,
    NONZERO_ELEMENTWISE,
    NONZERO_ELEMENTWISE_MODULES,
    REDUCE,
    RESHAPE,
    RESHAPE_MODULES,
    SHAPE_QUERIES,
    SPATIAL,
    SPATIAL_MODULES,
    ZERO_ELEMENTWISE,
    ZERO_ELEMENTWISE_MODULES,
    describe_node,
    is_torch_op,
    op_name,
)

__all__ = ["channel_groups"]


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
        self.g = GroupUnion()
        self.maps: dict[torch.fx.Node, ChannelMap | None] = {}
        calls: dict[str, int] = {}
        for node in gm.graph.nodes:
            if node.op == "call_module":
                calls[node.target] = calls.get(node.target, 0) + 1
        self.calls = calls
        self.direct_uses: list[str] = []  # get_attr targets

    # -- helpers
    def seg_size(self, seg: Segment) -> int:
        return self.g.size[self.g.find(seg.group)]

    def positions(self, m: ChannelMap) -> Iterator[tuple[int, Segment]]:
        pos = 0
        for seg in m.segs:
            yield pos, seg
            pos += self.seg_size(seg)

    def input_map(self, arg: object) -> ChannelMap | None:
        return self.maps.get(arg) if isinstance(arg, torch.fx.Node) else None

    def block_map(self, m: ChannelMap | None, reason: str) -> None:
        if m is not None:
            for seg in m.segs:
                self.g.block(seg.group, reason)

    def fresh(self, node: torch.fx.Node, reason: str | None = None, nonzero: str | None = None,
              ) -> ChannelMap | None:
        """A new group, not prunable, for the channel dim (1) of the node's output."""
        shape = _shape(node)
        if shape is None or len(shape) < 2:
            return None
        what = describe_node(self.gm, node)
        gid = self.g.new(shape[1], reason or f"channels made by {what}, not by a Conv or Linear")
        return ChannelMap(1, 1, (Segment(gid, nonzero),))

    def opaque(self, node: torch.fx.Node, why: str = "is not supported by the channel "
               "dependency analysis") -> ChannelMap | None:
        what = describe_node(self.gm, node)
        for arg in _nodes_in((node.args, node.kwargs)):
            self.block_map(self.maps.get(arg), f"reaches {what}, which {why}")
        return self.fresh(node, f"made by {what}, which {why}", nonzero=f"made by {what}")

    def check_zero(self, m: ChannelMap, consumer: str) -> None:
        for seg in m.segs:
            if seg.nonzero is not None:
                self.g.block(seg.group, f"a pruned channel reaches {consumer} non-zero "
                                        f"({seg.nonzero})")

    @staticmethod
    def with_nonzero(m: ChannelMap, why: str | None) -> ChannelMap:
        if why is None:
            return m
        return ChannelMap(m.dim, m.block, tuple(Segment(s.group, s.nonzero or why) for s in m.segs))

    # -- the walk
    def run(self) -> None:
        for node in self.gm.graph.nodes:
            self.maps[node] = self.visit(node)
        self.block_shared_parameters()

    def visit(self, node: torch.fx.Node) -> ChannelMap | None:
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

    def visit_module(self, node: torch.fx.Node) -> ChannelMap | None:
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
        if isinstance(m, ZERO_ELEMENTWISE_MODULES):
            return x
        if isinstance(m, NONZERO_ELEMENTWISE_MODULES):
            return self.with_nonzero(x, f"{name} ({type(m).__name__}) maps 0 elsewhere")
        if isinstance(m, SPATIAL_MODULES):
            return self.spatial(node, x)
        if isinstance(m, (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)):
            out = self.spatial(node, x)
            return out if m.value == 0 or out is None else self.with_nonzero(out, f"{name} pads "
                                                                                 "with a constant")
        if isinstance(m, RESHAPE_MODULES):
            return self.reshape(node, x)
        return self.opaque(node)

    def visit_function(self, node: torch.fx.Node) -> ChannelMap | None:
        name = op_name(node)
        inputs = [n for n in _nodes_in((node.args, node.kwargs)) if self.maps.get(n) is not None]
        if not is_torch_op(node.target):
            return self.opaque(node) if inputs else self.fresh(node)
        if name in SHAPE_QUERIES and _shape(node) is None:
            return None
        if not inputs:
            return self.fresh(node)  # e.g. torch.zeros(...): channels nobody prunes
        first = node.args[0] if node.args else None
        x = self.input_map(first)
        if name in CAT:
            return self.cat(node)
        if name in ADD | MUL | DIV:
            return self.binary(node, name)
        if x is None or _shape(node) is None or len(inputs) != 1:
            return self.opaque(node)
        if name in ZERO_ELEMENTWISE:
            return x
        if name in HARDTANH:
            low = node.args[1] if len(node.args) > 1 else node.kwargs.get("min_val", -1.0)
            high = node.args[2] if len(node.args) > 2 else node.kwargs.get("max_val", 1.0)
            return x if low <= 0 <= high else self.with_nonzero(x, f"{name}() maps 0 elsewhere")
        if name in NONZERO_ELEMENTWISE:
            return self.with_nonzero(x, f"{name}() maps 0 elsewhere")
        if name in SPATIAL:
            return self.spatial(node, x)
        if name in RESHAPE:
            return self.reshape(node, x)
        if name in REDUCE:
            return self.reduce(node, x)
        return self.opaque(node)

    # -- layers
    def conv(self, node: torch.fx.Node, name: str, m: nn.modules.conv._ConvNd,
             x: ChannelMap | None) -> ChannelMap | None:
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
            return ChannelMap(1, 1, tuple(Segment(s.group, None) for s in x.segs))
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

    def linear(self, node: torch.fx.Node, name: str, m: nn.Linear, x: ChannelMap | None) -> ChannelMap | None:
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
                 reason: str | None = None) -> ChannelMap:
        gid = self.g.new(channels, reason)
        for tensor in _producer_tensors(m):
            self.g.add(gid, Member(name, tensor, "producer", 0))
        return ChannelMap(dim, 1, (Segment(gid, None),))

    def batchnorm(self, node: torch.fx.Node, name: str, m: nn.modules.batchnorm._BatchNorm,
                  x: ChannelMap | None) -> ChannelMap | None:
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
        return ChannelMap(x.dim, x.block, tuple(Segment(s.group, nonzero) for s in x.segs))

    # -- data movement
    def spatial(self, node: torch.fx.Node, x: ChannelMap) -> ChannelMap | None:
        if x.dim != 1 or x.block != 1:
            return self.opaque(node, "works on the channel dimension of this tensor")
        return x

    def reshape(self, node: torch.fx.Node, x: ChannelMap) -> ChannelMap | None:
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
                    return ChannelMap(d, x.block * merged, x.segs)
        return self.opaque(node, "splits or mixes the channel dimension")

    def reduce(self, node: torch.fx.Node, x: ChannelMap) -> ChannelMap | None:
        in_shape = _shape(node.args[0])
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        dims = _normalize_dims(dims, len(in_shape)) if in_shape is not None else None
        if dims is None or not all(d > x.dim for d in dims) or x.block != 1:
            return self.opaque(node, "reduces over the channel dimension")
        return x

    def cat(self, node: torch.fx.Node) -> ChannelMap | None:
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
            return ChannelMap(dim, maps[0].block, tuple(s for m in maps for s in m.segs))
        out = maps[0]
        for m in maps[1:]:
            out = self.unify(node, out, m, lambda a, b: a or b)
        return out

    def binary(self, node: torch.fx.Node, name: str) -> ChannelMap | None:
        if len(node.args) < 2:
            return self.opaque(node)
        a, b = node.args[0], node.args[1]
        ma, mb = self.input_map(a), self.input_map(b)
        out_shape = _shape(node)
        if out_shape is None:
            return self.opaque(node)
        what = describe_node(self.gm, node)

        def combine(za: str | None, zb: str | None) -> str | None:
            if name in ADD:
                return za or zb
            if name in MUL:
                return None if za is None or zb is None else za
            return za  # division: zero only through the numerator

        if ma is not None and mb is not None:
            sa, sb = _shape(a), _shape(b)
            da, db = len(out_shape) - len(sa) + ma.dim, len(out_shape) - len(sb) + mb.dim
            if da == db and ma.block == mb.block and sa[ma.dim] == sb[mb.dim]:
                out = self.unify(node, ma, mb, combine)
                return ChannelMap(da, out.block, out.segs)
            for small, big, s, s_big in ((ma, mb, sa, sb), (mb, ma, sb, sa)):
                if s[small.dim] == 1:  # one channel broadcast over the other's channels
                    self.block_map(small, f"is broadcast over other channels by {what}")
                    keep = name in MUL or name in DIV and big is ma
                    d = len(out_shape) - len(s_big) + big.dim
                    return self.with_nonzero(ChannelMap(d, big.block, big.segs),
                                             None if keep else f"{what} adds to it")
            return self.opaque(node, "combines tensors with different channel layouts")
        x, other, x_first = (ma, b, True) if ma is not None else (mb, a, False)
        shape = _shape(other)
        if shape is not None:  # a tensor without channel map: broadcast over channels only
            x_shape = _shape(a if x_first else b)
            offset = len(shape) - len(x_shape) + x.dim
            if 0 <= offset < len(shape) and shape[offset] != 1:
                return self.opaque(node, "combines the channels with a per-channel constant")
            nonzero = f"{what} adds a tensor" if name in ADD else None
        elif isinstance(other, (int, float)) and name in ADD:
            nonzero = None if other == 0 else f"{what} adds a constant"
        elif isinstance(other, (int, float)):
            nonzero = None
        else:
            return self.opaque(node)
        if name in DIV and not x_first:
            nonzero = f"{what} divides by it"
        x_dim = len(out_shape) - len(_shape(a if x_first else b)) + x.dim
        return self.with_nonzero(ChannelMap(x_dim, x.block, x.segs), nonzero)

    def unify(self, node: torch.fx.Node, a: ChannelMap, b: ChannelMap,
              combine: Callable[[str | None, str | None], str | None]) -> ChannelMap:
        sizes_a = [self.seg_size(s) for s in a.segs]
        sizes_b = [self.seg_size(s) for s in b.segs]
        if sizes_a != sizes_b:
            what = describe_node(self.gm, node)
            reason = (f"{what} combines channel ranges that do not line up "
                      f"({sizes_a} vs {sizes_b})")
            self.block_map(a, reason)
            self.block_map(b, reason)
            return self.with_nonzero(a, reason)
        segs = []
        for sa, sb in zip(a.segs, b.segs):
            root = self.g.union(sa.group, sb.group)
            segs.append(Segment(root, combine(sa.nonzero, sb.nonzero)))
        return ChannelMap(a.dim, a.block, tuple(segs))

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


def channel_groups(gm: torch.fx.GraphModule, model: nn.Module) -> list[ChannelGroup]:
    """The channel groups of ``gm`` (the fx trace of ``model``, shapes propagated)."""
    analysis = _Analysis(gm, model)
    analysis.run()
    return analysis.groups()
