"""Channel maps: which dependency group each index of a tensor's channel dimension is in.

A map is a dimension, a ``block`` (how many consecutive entries of that dimension one
channel spans: ``H*W`` after a flatten) and a list of segments, each a whole group, in
order (a concat joins segments). Each segment also records whether it is exactly zero
once its channels are pruned. Groups are merged with union-find (:class:`GroupUnion`)
where ops force equal indices (residual add, elementwise mul).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .groups import Member

__all__ = ["ChannelMap", "GroupUnion", "Segment"]


@dataclass(frozen=True)
class Segment:
    group: int
    nonzero: str | None  # why a pruned channel is not exactly zero here (None: it is zero)


@dataclass(frozen=True)
class ChannelMap:
    dim: int
    block: int
    segs: tuple[Segment, ...]


class GroupUnion:
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
