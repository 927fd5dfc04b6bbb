"""The public Python API: compress your own model inside your own training loop.

``file_config(model, optimizer, schedule, example_inputs=...)``
    read a schedule (a path or YAML text: compression sections only) and bind it to the
    model: returns the :class:`~compressor.engine.scheduler.CompressionScheduler` whose
    hooks the loop calls (Distiller's names and arguments).
``prune(model, sparsity, ...)``
    one-shot pruning to a sparsity (magnitude or a structured criterion); returns masks.
``thin(model, example_inputs)``
    remove the channels that are zero in whole dependency groups, in place; returns the
    thinning recipe.
``save(model, path, scheduler=...)`` / ``load(path, model=...)``
    plain-data checkpoints of any of these models (recipe and masks included), read
    back with ``torch.load(weights_only=True)``.

Every mistake is a :class:`~compressor.errors.CompressorError` with a message naming what
is wrong (a schedule's are a :class:`~compressor.schedule.problems.ScheduleError`
listing all problems with file:line:key).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from . import ops
from .engine.build import build_scheduler
from .engine.pruning import build_pruner
from .engine.scheduler import CompressionScheduler
from .engine.thinning import apply_recipe, plan_thinning, thin_model, thinning_recipe
from .errors import CheckpointError, CompressorError
from .graph import GraphError, find_groups
from .io.checkpoint import Phase, is_sparse_state, load_checkpoint, save_checkpoint
from .nn.scaling import fold_scaling_factors
from .schedule.fields import parse_into
from .schedule.loader import read_schedule
from .schedule.problems import Problems
from .schedule.pruners import Criterion, LevelConfig

__all__ = ["file_config", "load", "prune", "save", "thin"]

SCHEDULE_TEXT = "<schedule text>"


def _schedule_source(schedule: str | Path) -> tuple[str, str | None]:
    """(path, text): a path to read, or YAML text given directly."""
    if isinstance(schedule, Path):
        return str(schedule), None
    if not isinstance(schedule, str):
        raise TypeError(f"schedule must be a path or YAML text, got {type(schedule).__name__}")
    if "\n" in schedule or (":" in schedule and not Path(schedule).is_file()):
        return SCHEDULE_TEXT, schedule
    return schedule, None  # a file (a missing one is reported by the reader)


def _example(example_inputs, where: str) -> torch.Tensor | None:
    """One example input tensor from a tensor or a 1-tuple of one."""
    if example_inputs is None or isinstance(example_inputs, torch.Tensor):
        return example_inputs
    if isinstance(example_inputs, (tuple, list)) and len(example_inputs) == 1 \
            and isinstance(example_inputs[0], torch.Tensor):
        return example_inputs[0]
    raise CompressorError(f"{where}: example_inputs must be one tensor (or a tuple holding one); "
                          "the dependency analysis traces models with a single input")


def file_config(model: nn.Module, optimizer: torch.optim.Optimizer | None, schedule: str | Path,
                *, example_inputs: torch.Tensor | tuple[torch.Tensor] | None = None,
                ) -> CompressionScheduler:
    """The compression scheduler of ``schedule`` for the user's own ``model`` and
    ``optimizer``.

    ``schedule`` is a path to a YAML file or the YAML text itself, holding the
    compression sections (``pruners``, ``regularizers``, ``lr_schedulers``,
    ``extensions``, ``policies``); ``model``, ``data`` and ``training`` are for the
    ``compress`` command and optional here (only ``training.epochs`` is used: it closes
    epoch windows that name no end). ``example_inputs`` (one batch-shaped input) is
    needed when structured criteria or thinning trace the model. The optimizer (None if
    the schedule has no lr schedulers) is the one the loop steps: lr schedulers step
    it, thinning slices its state.

    Raises ``ScheduleError`` listing every problem with file:line:key, e.g. a pattern
    that matches no parameter of ``model`` (with the closest names).
    """
    if not isinstance(model, nn.Module):
        raise CompressorError(f"file_config: model must be a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise CompressorError("file_config: optimizer must be a torch.optim.Optimizer or None, "
                              f"got {type(optimizer).__name__}")
    example = _example(example_inputs, "file_config")
    path, text = _schedule_source(schedule)
    parsed, problems = read_schedule(path, text=text, runner=False)
    if optimizer is None:
        for comp in parsed.lr_schedulers.values():
            problems.add(comp.line, comp.key, "an lr scheduler steps an optimizer: pass the "
                                              "optimizer to file_config")
    scheduler = build_scheduler(parsed, model, optimizer, problems, example)
    problems.raise_if_any()
    return scheduler


def _default_weights(model: nn.Module, criterion: str) -> list[str]:
    """The weights ``prune`` chooses when none are named: every Conv and Linear weight
    (convolutions only for filter / channel criteria, Linear only for ``neuron``)."""
    kinds: tuple[type, ...] = (nn.modules.conv._ConvNd, nn.Linear)
    if criterion in ("l1_filter", "l2_filter", "fpgm", "l1_channel", "l2_channel"):
        kinds = (nn.modules.conv._ConvNd,)
    elif criterion == "neuron":
        kinds = (nn.Linear,)
    return [f"{name}.weight" if name else "weight" for name, m in model.named_modules()
            if isinstance(m, kinds) and isinstance(getattr(m, "weight", None), torch.Tensor)]


def _raise_argument_problems(function: str, problems: Problems) -> None:
    if problems:
        lines = [f"{p.key}: {p.message}" if p.key else p.message for p in problems.items]
        raise CompressorError(f"{function}: " + "; ".join(lines))


def prune(model: nn.Module, sparsity: float, *, criterion: Criterion = "magnitude",
          scope: str = "layer", weights: str | Iterable[str] | None = None,
          example_inputs: torch.Tensor | tuple[torch.Tensor] | None = None,
          ) -> dict[str, torch.Tensor]:
    """Prune ``model`` once, in place, to ``sparsity``; returns the masks applied
    (``{parameter name: bool tensor}``, True = kept).

    ``criterion`` is any pruner criterion of the schedule language (``magnitude``,
    ``l1_filter``, ``l2_filter``, ``fpgm``, ``neuron``, ``l1_channel``, ``l2_channel``,
    ``bn_scale``, ...); structured ones zero whole channels of dependency groups and
    need ``example_inputs``. ``scope``: ``layer`` (each tensor to ``sparsity``) or
    ``global`` (all chosen tensors ranked together). ``weights``: parameter-name
    patterns (glob, or ``re:`` regex); default every Conv and Linear weight. Training
    afterwards revives pruned weights unless the masks are re-applied: use a schedule
    (:func:`file_config`) to fine-tune with them held at zero.
    """
    problems = Problems("compressor.prune()")
    patterns = (_default_weights(model, criterion) if weights is None
                else [weights] if isinstance(weights, str) else list(weights))
    config = parse_into(LevelConfig, {"weights": patterns, "criterion": criterion, "scope": scope,
                                      "sparsity": sparsity}, "", problems)
    if config is not None:
        config.check("", problems)
    _raise_argument_problems("compressor.prune", problems)
    example = _example(example_inputs, "compressor.prune")
    groups = None
    if config.structured:
        if example is None:
            raise CompressorError(f"compressor.prune: criterion {criterion!r} prunes whole channels "
                                  "of dependency groups; pass example_inputs= to trace the model")
        try:
            groups = find_groups(model, example)
        except GraphError as exc:
            raise CompressorError(f"compressor.prune: {exc}") from None
    pruner = build_pruner("prune", config, "", model, problems, groups, example)
    _raise_argument_problems("compressor.prune", problems)
    params = dict(model.named_parameters())
    masks = pruner.compute_masks(0, [0])
    with torch.no_grad():
        for name, mask in masks.items():
            ops.apply_mask_(params[name].data, mask)
    return masks


def thin(model: nn.Module, example_inputs: torch.Tensor | tuple[torch.Tensor], *,
         optimizer: torch.optim.Optimizer | None = None,
         masks: dict[str, torch.Tensor] | None = None) -> dict:
    """Remove, in place, every channel that is zero (or pruned by ``masks``) in all
    producers and BatchNorms of its dependency group; returns the model's thinning
    recipe (plain data; indices relative to the dense model).

    The model's modules shrink in place (the same objects, so ``model`` and the
    ``optimizer`` stay valid; with ``optimizer`` its momentum / Adam state is sliced
    too, and ``masks``, a ``{name: mask}`` dict, is sliced in place). Outputs are
    unchanged in eval mode.
    """
    example = _example(example_inputs, "compressor.thin")
    if example is None:
        raise CompressorError("compressor.thin: example_inputs is needed to trace the model")
    try:
        groups = find_groups(model, example)
    except GraphError as exc:
        raise CompressorError(f"compressor.thin: {exc}") from None
    plan = plan_thinning(model, groups, masks=masks)
    if plan.channels_removed:
        return thin_model(model, plan, optimizer, masks)
    return thinning_recipe(model) or {"format": "compressor.thinning", "version": 1, "modules": {}}


def save(model: nn.Module, path: str | Path, *, scheduler: CompressionScheduler | None = None,
         ) -> Path:
    """Write ``model`` (weights, thinning recipe, and the scheduler's masks and state if
    given) to ``path`` atomically, as plain data (``torch.load(weights_only=True)``
    reads it). :func:`load` rebuilds it."""
    state = {"phase": str(Phase.MODEL),
             "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
             "thinning": thinning_recipe(model)}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    return save_checkpoint(path, state)


def load(path: str | Path, *, model: nn.Module | None = None) -> nn.Module:
    """The model of a checkpoint, in eval mode.

    Without ``model``, the checkpoint must name its architecture (those written by the
    ``compress`` command do; sparse and thinned ones included). With ``model`` (a fresh
    instance of the user's class), that model is thinned by the checkpoint's recipe and
    given its weights, in place, and returned.
    """
    if model is None:
        # imported here: the readers of every checkpoint kind pull in torchvision's models
        from .io.load import load as load_any

        return load_any(path)
    state = load_checkpoint(path)
    source = str(path)
    if is_sparse_state(state):
        raise CheckpointError(f"{source} is a sparse inference checkpoint; it builds its own "
                              "model: call compressor.load(path) without model=")
    recipe = state.get("thinning")
    if recipe:
        if thinning_recipe(model) is not None:
            raise CheckpointError(f"{source}: the model given is already thinned; pass a fresh "
                                  "(dense) instance")
        apply_recipe(model, recipe, source=source)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{source}: weights do not fit the model given: {exc}") from None
    return fold_scaling_factors(model).eval()
