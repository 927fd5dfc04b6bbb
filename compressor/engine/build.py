"""Building what a checked schedule names for a model: pruners, regularizers, optimizer,
lr schedulers (patterns → tensors, names → torch objects).

Every problem found here (a pattern that matches nothing, two pruners on one tensor,
an optimizer or lr-scheduler argument torch rejects) is added to the schedule's
``Problems`` with its line, so the user sees them together with the file's other
mistakes.
"""

from __future__ import annotations

import dataclasses
import inspect

import torch
from torch import nn

from ..graph import GraphError, find_groups
from ..schedule.loader import Schedule, lr_scheduler_classes, optimizer_classes
from ..schedule.problems import Problems, did_you_mean
from ..schedule.sections import OptimizerSection
from .distributed import check_same, unwrap
from .pruning import Pruner, StructuredPruner, build_pruner
from .regularizers import Regularizer, build_regularizer
from .scheduler import CompressionScheduler


@dataclasses.dataclass
class Bound:
    pruners: dict[str, Pruner | StructuredPruner]
    regularizers: dict[str, Regularizer]


def _groups(schedule: Schedule, model: nn.Module, example_input, problems: Problems):
    """Dependency groups, when a structured pruner needs them (trace errors → problems)."""
    structured = [c for c in schedule.pruners.values() if c.config.structured]
    if not structured or example_input is None:  # no example: build_scheduler reported it
        return None
    try:
        return find_groups(model, example_input)
    except GraphError as exc:
        for comp in structured:
            problems.add(comp.config.line_of("criterion"), f"{comp.key}.criterion", str(exc))
        return None


def bind_components(schedule: Schedule, model: nn.Module, problems: Problems,
                    example_input: torch.Tensor | None = None) -> Bound:
    params = dict(model.named_parameters())
    groups = _groups(schedule, model, example_input, problems)
    pruners: dict[str, Pruner | StructuredPruner] = {}
    owner: dict[str, str] = {}
    for name, comp in schedule.pruners.items():
        if comp.config.structured and groups is None:
            continue
        pruner = build_pruner(name, comp.config, comp.key, model, problems, groups, example_input)
        if pruner is None:
            continue
        for param in pruner.param_names:
            if param in owner:
                problems.add(comp.config.line_of("weights"), f"{comp.key}.weights",
                             f"{param!r} is already pruned by pruner {owner[param]!r}; "
                             "one tensor may have only one pruner")
            else:
                owner[param] = name
        pruners[name] = pruner
    regularizers = {}
    for name, comp in schedule.regularizers.items():
        reg = build_regularizer(name, comp.config, comp.key, params, problems)
        if reg is not None:
            regularizers[name] = reg
    return Bound(pruners, regularizers)


def _unknown_arguments(cls: type, kwargs: dict, config, key: str, problems: Problems) -> bool:
    """Report keyword arguments ``cls`` does not take, each at its own line."""
    signature = inspect.signature(cls.__init__)
    accepted = list(signature.parameters)[2:]  # past self and params/optimizer
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return False
    bad = [k for k in kwargs if k not in accepted]
    for k in bad:
        problems.add(config.line_of(k), f"{key}.{k}",
                     f"{cls.__name__} takes no argument {k!r}" + did_you_mean(k, accepted))
    return bool(bad)


def build_optimizer(section: OptimizerSection, params, problems: Problems,
                    key: str = "training.optimizer") -> torch.optim.Optimizer | None:
    classes = optimizer_classes()
    if section.type not in classes:
        problems.add(section.line_of("type"), f"{key}.type",
                     f"unknown optimizer {section.type!r}" + did_you_mean(section.type, classes))
        return None
    if _unknown_arguments(classes[section.type], section.kwargs, section, key, problems):
        return None
    try:
        return classes[section.type](params, **section.kwargs)
    except (TypeError, ValueError) as exc:
        problems.add(section._line, key, f"torch.optim.{section.type} rejected the settings: {exc}")
        return None


def build_lr_schedulers(schedule: Schedule, optimizer: torch.optim.Optimizer | None,
                        problems: Problems) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
    """Build the lr schedulers; without an optimizer they are checked on a stand-in one."""
    classes = lr_scheduler_classes()
    out = {}
    for name, comp in schedule.lr_schedulers.items():
        if _unknown_arguments(classes[comp.type], comp.config.kwargs, comp.config, comp.key, problems):
            continue
        target = optimizer or torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
        try:
            out[name] = classes[comp.type](target, **comp.config.kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            problems.add(comp.line, comp.key,
                         f"torch.optim.lr_scheduler.{comp.type} rejected the settings: {exc}")
    return out


def needs_example(schedule: Schedule) -> list[tuple[int, str, str]]:
    """(line, key, what) of every component that traces the model: structured pruners
    (dependency groups) and thinning extensions."""
    out = [(c.config.line_of("criterion"), f"{c.key}.criterion", f"structured criterion "
            f"{c.config.criterion!r}") for c in schedule.pruners.values() if c.config.structured]
    out += [(c.line, c.key, "thinning") for c in schedule.extensions.values() if c.type == "thinning"]
    return out


def build_scheduler(schedule: Schedule, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    problems: Problems, example_input: torch.Tensor | None = None,
                    ) -> CompressionScheduler | None:
    """The scheduler of a parsed schedule bound to ``model`` and ``optimizer``: pruners,
    regularizers and lr schedulers built, every misfit a problem at its line (None if
    there were any; raise them with ``problems.raise_if_any()``). Without an optimizer
    the lr schedulers are only checked (on a stand-in). ``model`` may be wrapped in
    DistributedDataParallel: every rank must then give the same schedule."""
    check_same(schedule.text, f"the schedule ({schedule.path})")
    wrapped, model = model, unwrap(model)[0]
    if example_input is None:
        for line, key, what in needs_example(schedule):
            problems.add(line, key, f"{what} traces the model and needs an example input "
                                    "(example_inputs= of compressor.file_config)")
    bound = bind_components(schedule, model, problems, example_input)
    lr_schedulers = build_lr_schedulers(schedule, optimizer, problems)
    if problems:
        return None
    return CompressionScheduler(schedule, wrapped, bound, lr_schedulers, optimizer, example_input)
