"""How much to prune at a given epoch.

Each function maps an epoch and the sorted list of epochs on which its policy runs
("active epochs") to a target sparsity. Targets depend only on the epoch, never on
history, so a run resumed from a checkpoint computes exactly the same targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def polynomial(epoch: int, active: Sequence[int], initial: float, final: float,
               power: float) -> float:
    """Polynomial decay from ``initial`` to ``final`` across the active epochs.

    s(e) = final + (initial - final) * (1 - (e - a0) / (aN - a0)) ** power,
    where a0 and aN are the first and last active epochs. With power 3 this is
    Zhu & Gupta's automated gradual pruning (AGP). A single active epoch prunes
    straight to ``final``.
    """
    first, last = active[0], active[-1]
    if last == first:
        return final
    progress = min(max((epoch - first) / (last - first), 0.0), 1.0)
    return final + (initial - final) * (1.0 - progress) ** power


def iterative(epoch: int, active: Sequence[int], step: float, final: float) -> float:
    """Raise sparsity by ``step`` on each active epoch until ``final``."""
    done = sum(1 for a in active if a <= epoch)
    return min(final, step * done)


def iterative_steps_needed(step: float, final: float) -> int:
    """Active epochs an iterative schedule needs to reach ``final``."""
    return max(1, math.ceil(final / step - 1e-9))
