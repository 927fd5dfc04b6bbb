"""How much to prune at a given time: an epoch, or an optimizer step.

Each function maps a time ``t`` and the sorted times on which its policy runs ("active
times": the epochs of an epoch window, or the steps of a step window, as a ``range`` or
a list) to a target sparsity. Targets depend only on ``t``, never on history, so a run
resumed from a checkpoint computes exactly the same targets.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence


def runs_up_to(t: int, active: Sequence[int]) -> int:
    """How many active times are ``<= t`` (logarithmic in ``len(active)``)."""
    return bisect.bisect_right(active, t)


def polynomial(t: int, active: Sequence[int], initial: float, final: float,
               power: float) -> float:
    """Polynomial decay from ``initial`` to ``final`` across the active times.

    s(t) = final + (initial - final) * (1 - (t - a0) / (aN - a0)) ** power,
    where a0 and aN are the first and last active times. With power 3 this is
    Zhu & Gupta's automated gradual pruning (AGP). A single active time prunes
    straight to ``final``.
    """
    first, last = active[0], active[-1]
    if last == first:
        return final
    progress = min(max((t - first) / (last - first), 0.0), 1.0)
    return final + (initial - final) * (1.0 - progress) ** power


def iterative(t: int, active: Sequence[int], step: float, final: float) -> float:
    """Raise sparsity by ``step`` at each active time until ``final``."""
    return min(final, step * runs_up_to(t, active))


def iterative_steps_needed(step: float, final: float) -> int:
    """Active times an iterative schedule needs to reach ``final``."""
    return max(1, math.ceil(final / step - 1e-9))
