"""Pruning: criteria decide *which* weights, sparsity schedules decide *how much, when*."""

from .pruners import PRUNER_TYPES, Pruner, build_pruner  # noqa: F401
