"""The compression scheduler: runs the schedule's policies at the training loop's hooks.

The hooks keep Distiller's names and arguments, so a loop written for Distiller's
scheduler runs unchanged (``optimizer`` is optional everywhere; if given it must be the
one the scheduler was built with)::

    on_epoch_begin(epoch)                      pruners and extensions of epoch windows run
    on_minibatch_begin(epoch, i, n)            ... and those of step windows
    before_backward_pass(epoch, i, n, loss)    active regularizers add their penalties;
                                               returns the loss to call backward on
    on_minibatch_end(epoch, i, n)              after the optimizer step: masks re-applied,
                                               lr schedulers of step windows step
    on_epoch_end(epoch, metrics=None)          lr schedulers of epoch windows step
                                               (ReduceLROnPlateau gets ``metrics``)

``i`` is the minibatch's index in the epoch and ``n`` the minibatches per epoch; a step
window counts optimizer steps ``epoch * n + i`` from the first minibatch of epoch 0.
Policies active at the same time run in declaration order. Everything a hook does is a
function of (epoch, step) and the stored masks, so a resumed run repeats the
uninterrupted one exactly. Under DistributedDataParallel (pass the wrapped model) every
rank ends each pruning event with rank 0's masks, thinning is checked to be the same on
every rank and the wrapper is rebuilt around the thinned module (:mod:`.distributed`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import CompressorError
from ..schedule.loader import Schedule
from ..schedule.ramps import runs_up_to
from .distributed import broadcast_masks, check_same, rebuild_ddp, unwrap
from .extensions import run_extension
from .masks import MaskStore
from .thinning import apply_recipe, thinning_recipe

if TYPE_CHECKING:  # annotations only: build.py builds schedulers
    from .build import Bound

__all__ = ["CompressionScheduler"]

EPOCH, STEP = "epoch", "step"


@dataclasses.dataclass(frozen=True)
class _Policy:
    kind: str  # pruner | regularizer | lr_scheduler | extension
    name: str
    unit: str  # EPOCH or STEP
    active: Sequence[int]  # sorted epochs or steps (a range for windows)


class CompressionScheduler:
    """Runs a bound schedule's policies; built by ``compressor.file_config`` (or the
    command line's runner) — see the module docstring for the hooks."""

    def __init__(self, schedule: Schedule, model: nn.Module, bound: Bound,
                 lr_schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler],
                 optimizer: torch.optim.Optimizer | None = None,
                 example_input: torch.Tensor | None = None) -> None:
        self.schedule = schedule
        # under DistributedDataParallel the scheduler works on the module inside; the
        # wrapper is rebuilt after thinning
        self.model, self.wrapper = unwrap(model)
        self.pruners = bound.pruners
        self.regularizers = bound.regularizers
        self.lr_schedulers = lr_schedulers
        self.optimizer = optimizer
        self.example_input = example_input
        self.masks = MaskStore(self.model)
        self.events: list[dict] = []  # what extensions did (thinning), for the report
        self.epoch: int | None = None  # the newest epoch and step a hook saw
        self.step: int | None = None
        total = schedule.epochs if schedule.training else None
        self._policies = [_Policy(p.kind, p.instance, p.unit, p.active(total))
                          for p in schedule.policies]

    # -------------------------------------------------------------- queries
    @property
    def targeted(self) -> list[str]:
        """The names of the parameters some pruner prunes."""
        return [n for pruner in self.pruners.values() for n in pruner.param_names]

    def target_levels(self, epoch: int, step: int | None = None) -> dict[str, float]:
        """Each pruned tensor's target sparsity in force after ``epoch`` began and (for
        step windows) step ``step`` (default: the newest step a hook saw) ran."""
        step = self.step if step is None else step
        levels: dict[str, float] = {}
        for p in self._policies:
            if p.kind != "pruner" or p.name not in self.pruners:
                continue
            t = epoch if p.unit == EPOCH else step
            done = 0 if t is None else runs_up_to(t, p.active)
            if done:
                levels.update(self.pruners[p.name].targets(p.active[done - 1], p.active))
        return levels

    # ---------------------------------------------------------------- hooks
    def on_epoch_begin(self, epoch: int, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Pruners and extensions whose epoch window holds ``epoch``, in declaration order."""
        self._check_optimizer(optimizer, "on_epoch_begin")
        self.epoch = epoch
        self._run(EPOCH, epoch, epoch)
        self.masks.apply()

    def on_minibatch_begin(self, epoch: int, minibatch_id: int, minibatches_per_epoch: int,
                           optimizer: torch.optim.Optimizer | None = None) -> None:
        """Pruners and extensions whose step window holds this step."""
        self._check_optimizer(optimizer, "on_minibatch_begin")
        step = self._step(epoch, minibatch_id, minibatches_per_epoch, "on_minibatch_begin")
        if self._run(STEP, step, epoch):
            self.masks.apply()

    def before_backward_pass(self, epoch: int, minibatch_id: int, minibatches_per_epoch: int,
                             loss: torch.Tensor, optimizer: torch.optim.Optimizer | None = None,
                             ) -> torch.Tensor:
        """``loss`` plus the penalties of the regularizers active now."""
        self._check_optimizer(optimizer, "before_backward_pass")
        step = self._step(epoch, minibatch_id, minibatches_per_epoch, "before_backward_pass")
        for p in self._policies:
            if p.kind == "regularizer" and (epoch if p.unit == EPOCH else step) in p.active:
                loss = loss + self.regularizers[p.name].penalty()
        return loss

    def on_minibatch_end(self, epoch: int, minibatch_id: int, minibatches_per_epoch: int,
                         optimizer: torch.optim.Optimizer | None = None) -> None:
        """After the optimizer step: masks re-applied (momentum or weight decay never
        revives a pruned weight); lr schedulers of step windows step."""
        self._check_optimizer(optimizer, "on_minibatch_end")
        step = self._step(epoch, minibatch_id, minibatches_per_epoch, "on_minibatch_end")
        self.masks.apply()
        for p in self._policies:
            if p.kind == "lr_scheduler" and p.unit == STEP and step in p.active:
                self.lr_schedulers[p.name].step()

    def on_epoch_end(self, epoch: int, metrics: float | torch.Tensor | None = None,
                     optimizer: torch.optim.Optimizer | None = None) -> None:
        """lr schedulers of epoch windows step; ReduceLROnPlateau steps on ``metrics``."""
        self._check_optimizer(optimizer, "on_epoch_end")
        for p in self._policies:
            if p.kind != "lr_scheduler" or p.unit != EPOCH or epoch not in p.active:
                continue
            sched = self.lr_schedulers[p.name]
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                if metrics is None:
                    raise CompressorError(
                        f"lr scheduler {p.name!r} is a ReduceLROnPlateau: pass the metric it "
                        f"watches, on_epoch_end({epoch}, metrics=<validation loss>)")
                sched.step(float(metrics))
            else:
                sched.step()

    # ------------------------------------------------------------ internals
    def _run(self, unit: str, t: int, epoch: int) -> bool:
        """Run the pruners and extensions of ``unit`` windows active at time ``t``."""
        ran = False
        for p in self._policies:
            if p.unit != unit or t not in p.active:
                continue
            if p.kind == "pruner":
                masks = broadcast_masks(self.pruners[p.name].compute_masks(t, p.active))
                for param, mask in masks.items():
                    self.masks.set(param, mask)
                self.masks.apply()
                ran = True
            elif p.kind == "extension":
                self.masks.apply()
                comp = self.schedule.extensions[p.name]
                when = {"epoch": epoch} if unit == EPOCH else {"epoch": epoch, "step": t}
                self.events.append({"name": p.name, **run_extension(comp.type, comp.config, self, when)})
                check_same(thinning_recipe(self.model), f"the thinning of extension {p.name!r}")
                if self.wrapper is not None:
                    rebuild_ddp(self.wrapper)
                ran = True
        return ran

    def _step(self, epoch: int, minibatch_id: int, minibatches_per_epoch: int, hook: str) -> int:
        if not 0 <= minibatch_id < minibatches_per_epoch:
            raise CompressorError(f"{hook}({epoch}, {minibatch_id}, {minibatches_per_epoch}): "
                                  "minibatch_id must be in [0, minibatches_per_epoch)")
        self.epoch = epoch
        self.step = epoch * minibatches_per_epoch + minibatch_id
        return self.step

    def _check_optimizer(self, optimizer: torch.optim.Optimizer | None, hook: str) -> None:
        if optimizer is not None and optimizer is not self.optimizer:
            raise CompressorError(f"{hook}: this optimizer is not the one the scheduler was built "
                                  "with (its lr schedulers and thinning follow that one); pass the "
                                  "same optimizer to file_config and to the hooks")

    def rebind(self) -> None:
        """After the model's parameters were resized (thinning): let pruners and
        regularizers see the new shapes and groups."""
        params = dict(self.model.named_parameters())
        for component in (*self.pruners.values(), *self.regularizers.values()):
            component.rebind(params)

    # ---------------------------------------------------------- persistence
    def state_dict(self) -> dict:
        """Plain data (masks, what extensions did, lr-scheduler state): save it with your
        own checkpoint; ``torch.load(weights_only=True)`` reads it back."""
        return {"masks": self.masks.state_dict(), "events": self.events,
                "lr_schedulers": {n: s.state_dict() for n, s in self.lr_schedulers.items()},
                "position": {"epoch": self.epoch, "step": self.step},
                "thinning": thinning_recipe(self.model)}

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        """Restore :meth:`state_dict`. If it was saved after thinning and the model is
        still dense, the model is thinned the same way first (in place, the optimizer
        pointed at the new parameters), so load the scheduler's state before the
        model's and the optimizer's."""
        recipe = state.get("thinning")
        if recipe and thinning_recipe(self.model) != recipe:
            if thinning_recipe(self.model) is not None:
                raise CompressorError(f"{source}: the scheduler's state was saved with another "
                                      "thinning than the model has now")
            apply_recipe(self.model, recipe, source=source, optimizer=self.optimizer)
            self.masks.rebind(self.model)
            self.rebind()
            if self.wrapper is not None:
                rebuild_ddp(self.wrapper)
        self.masks.load_state_dict(state["masks"], source)
        self.events = list(state.get("events", []))
        for name, sched in self.lr_schedulers.items():
            if name in state["lr_schedulers"]:
                sched.load_state_dict(state["lr_schedulers"][name])
        position = state.get("position") or {}
        self.epoch, self.step = position.get("epoch"), position.get("step")
