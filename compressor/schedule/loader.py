"""Reading a schedule file: YAML → sections, components and policies, all checked.

``read_schedule`` returns the parsed ``Schedule`` together with every problem found;
checks that need the model (patterns, optimizer arguments) are added later by
``compressor.engine.build``. Nothing is raised until all problems are known.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import torch
import yaml

from ..errors import CompressorError
from .extensions import EXTENSION_TYPES
from .fields import parse_into
from .located_yaml import DuplicateKeyError, LocatedDict, load_located
from .problems import Problems, did_you_mean
from .pruners import PRUNER_TYPES, AGPConfig, IterativeConfig
from .regularizers import REGULARIZER_TYPES
from .sections import (
    DataSection,
    LoggingSection,
    LRSchedulerConfig,
    ModelSection,
    PolicySection,
    TrainingSection,
    is_open,
)

SCHEDULE_VERSION = 1


def lr_scheduler_classes() -> dict[str, type]:
    """Every learning-rate scheduler class torch offers, by name."""
    module = torch.optim.lr_scheduler
    base = module.LRScheduler
    return {name: cls for name, cls in vars(module).items()
            if inspect.isclass(cls) and issubclass(cls, base) and cls is not base
            and not name.startswith("_")}


def optimizer_classes() -> dict[str, type]:
    return {name: cls for name, cls in vars(torch.optim).items()
            if inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)
            and cls is not torch.optim.Optimizer}


COMPONENT_KINDS: dict[str, dict[str, Any]] = {
    "pruners": PRUNER_TYPES,
    "regularizers": REGULARIZER_TYPES,
    "extensions": EXTENSION_TYPES,
}
POLICY_KIND_SECTION = {"pruner": "pruners", "regularizer": "regularizers",
                       "lr_scheduler": "lr_schedulers", "extension": "extensions"}


@dataclasses.dataclass
class Component:
    """One named entry of a components section (a pruner, regularizer, ...)."""

    name: str
    type: str
    config: Any
    line: int
    key: str


@dataclasses.dataclass
class Schedule:
    path: str
    text: str
    version: int = SCHEDULE_VERSION
    model: ModelSection | None = None
    data: DataSection | None = None
    training: TrainingSection | None = None
    logging: LoggingSection | None = None
    pruners: dict[str, Component] = dataclasses.field(default_factory=dict)
    regularizers: dict[str, Component] = dataclasses.field(default_factory=dict)
    lr_schedulers: dict[str, Component] = dataclasses.field(default_factory=dict)
    extensions: dict[str, Component] = dataclasses.field(default_factory=dict)
    policies: list[PolicySection] = dataclasses.field(default_factory=list)
    # (section, name) of entries whose own settings had problems: policies naming them
    # are not reported again as naming nothing
    broken: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    @property
    def epochs(self) -> int:
        return self.training.epochs if self.training else 0

    def policies_for(self, section: str, name: str) -> list[PolicySection]:
        return [p for p in self.policies
                if p.kind and POLICY_KIND_SECTION[p.kind] == section and p.instance == name]


TOP_LEVEL = ("version", "model", "data", "training", "logging", "pruners", "regularizers",
             "lr_schedulers", "extensions", "policies")
REQUIRED_TOP_LEVEL = ("model", "data", "training")


def read_schedule_file(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise CompressorError(f"schedule file {str(path)!r} not found"
                              + (" (it is a directory)" if p.is_dir() else ""))
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CompressorError(f"cannot read schedule file {str(path)!r}: {exc}") from None


def read_schedule(path: str | Path, *, text: str | None = None, epochs: int | None = None,
                  runner: bool = True) -> tuple[Schedule, Problems]:
    """Parse and check a schedule; ``epochs`` overrides ``training.epochs``.

    ``runner`` (the ``compress`` command) requires the ``model``, ``data`` and
    ``training`` sections; without it (``compressor.file_config``: the user's own loop,
    model and data) only the compression sections are needed, and the others, if
    present, are checked but only ``training.epochs`` is used (it closes open epoch
    windows)."""
    path = str(path)
    if text is None:
        text = read_schedule_file(path)
    problems = Problems(path)
    schedule = Schedule(path=path, text=text)
    try:
        root = load_located(text)
    except DuplicateKeyError as exc:
        problems.add(exc.line, str(exc.key), str(exc))
        return schedule, problems
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = getattr(exc, "problem", None) or str(exc)
        problems.add(mark.line + 1 if mark else 1, "", f"invalid YAML: {detail}")
        return schedule, problems
    if not isinstance(root, LocatedDict):
        problems.add(1, "", "a schedule must be a YAML mapping with keys "
                     + ", ".join(TOP_LEVEL))
        return schedule, problems

    for key in root:
        if key not in TOP_LEVEL:
            problems.add(root.line_of(key), str(key), "unknown section" + did_you_mean(str(key), TOP_LEVEL))
    for key in REQUIRED_TOP_LEVEL if runner else ():
        if key not in root:
            problems.add(1, key, "missing required section")

    version = root.get("version", SCHEDULE_VERSION)
    if version != SCHEDULE_VERSION:
        problems.add(root.line_of("version"), "version",
                     f"unsupported schedule version {version!r}; this compressor reads version "
                     f"{SCHEDULE_VERSION}")
    if "model" in root:
        schedule.model = parse_into(ModelSection, root["model"], "model", problems,
                                    line=root.line_of("model"))
    if "data" in root:
        schedule.data = parse_into(DataSection, root["data"], "data", problems,
                                   line=root.line_of("data"))
    if "training" in root:
        schedule.training = parse_into(TrainingSection, root["training"], "training", problems,
                                       line=root.line_of("training"))
        if schedule.training is not None and epochs is not None:
            schedule.training.epochs = epochs
    if "logging" in root:
        schedule.logging = parse_into(LoggingSection, root["logging"], "logging", problems,
                                      line=root.line_of("logging"))
    if runner:  # the runner trains the model; a user's own loop brings a trained one or not
        _check_start(schedule, problems)
    for section, registry in COMPONENT_KINDS.items():
        setattr(schedule, section, _components(root, section, registry, problems))
    schedule.lr_schedulers = _components(root, "lr_schedulers", None, problems)
    for section in (*COMPONENT_KINDS, "lr_schedulers"):
        node = root.get(section)
        if isinstance(node, LocatedDict):
            schedule.broken |= {(section, str(n)) for n in node if str(n) not in getattr(schedule, section)}
    schedule.policies = _policies(root, problems)
    _check_policies(schedule, problems, check_unused="policies" in root)
    return schedule, problems


def _check_start(schedule: Schedule, problems: Problems) -> None:
    """The network to compress is trained first, loaded trained, or explicitly untrained."""
    model, training = schedule.model, schedule.training
    if model is None or training is None:
        return
    starts = [f"model.{k}" for k in ("checkpoint", "weights") if getattr(model, k)]
    if training.from_scratch:
        given = [*starts, *([f"dense_epochs: {training.dense_epochs}"] if training.dense_epochs else [])]
        if given:
            problems.add(training.line_of("from_scratch"), "training.from_scratch",
                         f"from_scratch: true contradicts {' and '.join(given)} (the network is "
                         "trained or loaded first); remove one of them")
    elif training.dense_epochs == 0 and not starts:
        problems.add(training.line_of("dense_epochs"), "training.dense_epochs",
                     "no dense epochs and neither model.checkpoint nor model.weights: the schedule "
                     "would compress an untrained network. Train it first (training.dense_epochs: N), "
                     "start from trained weights (model.checkpoint or model.weights), or set "
                     "training.from_scratch: true if that is what you mean")


def _components(root: LocatedDict, section: str, registry: dict[str, Any] | None,
                problems: Problems) -> dict[str, Component]:
    """Parse ``section: {name: {type: ..., ...}}``; ``registry`` None means lr schedulers."""
    node = root.get(section)
    if node is None:
        return {}
    if not isinstance(node, LocatedDict):
        problems.add(root.line_of(section), section, "expected a mapping of name → settings")
        return {}
    out: dict[str, Component] = {}
    for name, entry in node.items():
        key = f"{section}.{name}"
        line = node.line_of(name)
        if not isinstance(entry, LocatedDict):
            problems.add(line, key, "expected a mapping with a `type` key")
            continue
        type_name = entry.get("type")
        if type_name is None:
            problems.add(line, f"{key}.type", "missing required key")
            continue
        type_line = entry.line_of("type")
        if registry is None:
            classes = lr_scheduler_classes()
            if type_name not in classes:
                problems.add(type_line, f"{key}.type", f"unknown lr scheduler {type_name!r}"
                             + did_you_mean(str(type_name), classes))
                continue
            config_cls: type = LRSchedulerConfig
        else:
            if type_name not in registry:
                problems.add(type_line, f"{key}.type", f"unknown {section[:-1]} type {type_name!r}"
                             + did_you_mean(str(type_name), registry))
                continue
            config_cls = registry[type_name]
        config = parse_into(config_cls, entry, key, problems, ignore=("type",), line=line)
        if config is None:
            continue
        if hasattr(config, "check"):
            config.check(key, problems)
        out[str(name)] = Component(str(name), str(type_name), config, line, key)
    return out


def _policies(root: LocatedDict, problems: Problems) -> list[PolicySection]:
    node = root.get("policies")
    if node is None:
        return []
    if not isinstance(node, list):
        problems.add(root.line_of("policies"), "policies", "expected a list of policies")
        return []
    out = []
    for i, entry in enumerate(node):
        policy = parse_into(PolicySection, entry, f"policies[{i}]", problems)
        if policy is not None:
            out.append(policy)
    return out


def _check_policies(schedule: Schedule, problems: Problems, check_unused: bool) -> None:
    total = schedule.epochs if schedule.training else None
    for policy in schedule.policies:
        key, line = policy._key, policy._line
        named = [k for k in PolicySection.KINDS if getattr(policy, k) is not None]
        if len(named) != 1:
            problems.add(line, key, "a policy names exactly one of " + ", ".join(PolicySection.KINDS)
                         + (f"; it names {', '.join(named)}" if named else ""))
            continue
        kind = named[0]
        section = POLICY_KIND_SECTION[kind]
        instances = getattr(schedule, section)
        if policy.instance not in instances and (section, policy.instance) not in schedule.broken:
            problems.add(policy.line_of(kind), f"{key}.{kind}",
                         f"no {kind} named {policy.instance!r} under `{section}`"
                         + did_you_mean(policy.instance, instances))
        epoch_keys = [k for k in PolicySection.EPOCH_KEYS if getattr(policy, k) is not None]
        step_keys = [k for k in PolicySection.STEP_KEYS if getattr(policy, k) is not None]
        if epoch_keys and step_keys:
            problems.add(policy.line_of(step_keys[0]), f"{key}.{step_keys[0]}",
                         f"a policy runs on epochs or on steps: give {', '.join(epoch_keys)} or "
                         f"{', '.join(step_keys)}, not both")
            continue
        if step_keys:
            _check_step_window(policy, key, problems)
        else:
            _check_epoch_window(policy, key, total, problems)
        if kind == "lr_scheduler" and policy.unit == "step" and policy.instance in instances \
                and instances[policy.instance].type == "ReduceLROnPlateau":
            problems.add(policy.line_of(step_keys[0]), f"{key}.{step_keys[0]}",
                         "ReduceLROnPlateau steps on a metric given at the end of an epoch; "
                         "use an epoch window")

    for section in ("pruners", "regularizers", "lr_schedulers", "extensions") if check_unused else ():
        for name, comp in getattr(schedule, section).items():
            if not schedule.policies_for(section, name):
                problems.add(comp.line, comp.key, "defined but no policy uses it; add a policy or remove it")

    for name, comp in schedule.pruners.items():
        for policy in schedule.policies_for("pruners", name):
            _check_ramp(name, comp, policy, total, problems)


def _check_step_window(policy: PolicySection, key: str, problems: Problems) -> None:
    start, end = policy.starting_step or 0, policy.ending_step
    if end is not None and start >= end:
        problems.add(policy.line_of("starting_step"), f"{key}.starting_step",
                     f"window [{start}, {end}) is empty (ending_step is exclusive)")


def _check_epoch_window(policy: PolicySection, key: str, total: int | None,
                        problems: Problems) -> None:
    if policy.epochs is not None:
        window_keys = [k for k in ("starting_epoch", "ending_epoch", "frequency")
                       if getattr(policy, k) is not None]
        if window_keys:
            problems.add(policy.line_of("epochs"), f"{key}.epochs",
                         f"give either `epochs` or a window ({', '.join(window_keys)}), not both")
            return
        if not policy.epochs:
            problems.add(policy.line_of("epochs"), f"{key}.epochs", "must list at least one epoch")
    start = policy.starting_epoch or 0
    if total is None:  # the user's own loop: no training length to check against
        if policy.ending_epoch is not None and start >= policy.ending_epoch:
            problems.add(policy.line_of("starting_epoch"), f"{key}.starting_epoch",
                         f"window [{start}, {policy.ending_epoch}) is empty (ending_epoch is exclusive)")
        return
    limit = max(total, 1)  # with zero epochs, epoch 0 means "prune/thin, no training"
    if policy.epochs is not None:
        for e in policy.epochs:
            if not 0 <= e < limit:
                problems.add(policy.line_of("epochs"), f"{key}.epochs",
                             f"epoch {e} is outside training (epochs 0..{total - 1})")
        return
    end = limit if policy.ending_epoch is None else policy.ending_epoch
    if end > limit:
        problems.add(policy.line_of("ending_epoch"), f"{key}.ending_epoch",
                     f"{end} is beyond training.epochs ({total}); the window must end by then")
    elif start >= end:
        problems.add(policy.line_of("starting_epoch"), f"{key}.starting_epoch",
                     f"window [{start}, {end}) is empty (ending_epoch is exclusive)"
                     + ("; training.epochs is 0" if total == 0 else ""))


def _check_ramp(name: str, comp: Component, policy: PolicySection, total: int | None,
                problems: Problems) -> None:
    """A ramp (agp / polynomial) needs the last time of its window; an iterative pruner
    enough active times to reach its final sparsity."""
    active = policy.active(total)
    unit = policy.unit
    if isinstance(comp.config, AGPConfig) and is_open(active):
        missing = "ending_step" if unit == "step" else "ending_epoch"
        problems.add(policy._line, f"{policy._key}.{missing}",
                     f"pruner {name!r} ramps its sparsity up to the last {unit} of its window, "
                     f"so the window needs an end: give `{missing}`"
                     + ("" if unit == "step" else " (or `training.epochs`)"))
    elif isinstance(comp.config, IterativeConfig) and not is_open(active):
        need = comp.config.steps_needed()
        if active and len(active) < need:
            problems.add(policy._line, policy._key,
                         f"iterative pruner {name!r} needs {need} active {unit}s to reach "
                         f"{comp.config.final_sparsity} in steps of {comp.config.step}, "
                         f"but this policy runs on {len(active)}")
