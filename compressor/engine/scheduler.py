"""The compression scheduler: runs the schedule's policies at the training loop's hooks.

Hooks, called by the training loop:

``on_epoch_begin(epoch)``        pruners whose policy is active recompute and apply masks
``before_backward(epoch, loss)`` active regularizers add their penalties to the loss
``on_minibatch_end(epoch)``      after the optimizer step: masks are re-applied
``on_epoch_end(epoch, val_loss)`` active lr schedulers step (ReduceLROnPlateau gets the loss)

Policies active on the same epoch run in declaration order. Everything a hook does is
a function of the epoch number and the stored masks, so a resumed run repeats the
uninterrupted one exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from ..schedule.loader import Schedule
from .build import Bound
from .extensions import run_extension
from .masks import MaskStore


class CompressionScheduler:
    def __init__(self, schedule: Schedule, model: nn.Module, bound: Bound,
                 lr_schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler],
                 optimizer: torch.optim.Optimizer | None = None,
                 example_input: torch.Tensor | None = None) -> None:
        self.schedule = schedule
        self.model = model
        self.pruners = bound.pruners
        self.regularizers = bound.regularizers
        self.lr_schedulers = lr_schedulers
        self.optimizer = optimizer
        self.example_input = example_input
        self.masks = MaskStore(model)
        self.events: list[dict] = []  # what extensions did (thinning), for the report
        total = schedule.epochs
        self._policies = [(p.kind, p.instance, p.active_epochs(total)) for p in schedule.policies]

    def _active(self, kind: str, epoch: int):
        for policy_kind, name, active in self._policies:
            if policy_kind == kind and epoch in active:
                yield name, active

    @property
    def targeted(self) -> list[str]:
        return [n for pruner in self.pruners.values() for n in pruner.param_names]

    def target_levels(self, epoch: int) -> dict[str, float]:
        """Each pruned tensor's target sparsity in force during ``epoch``."""
        levels: dict[str, float] = {}
        for kind, name, active in self._policies:
            if kind != "pruner" or name not in self.pruners:
                continue
            done = [a for a in active if a <= epoch]
            if done:
                levels.update(self.pruners[name].targets(done[-1], active))
        return levels

    def on_epoch_begin(self, epoch: int) -> None:
        """Pruners and extensions active on ``epoch``, in declaration order."""
        for kind, name, active in self._policies:
            if epoch not in active:
                continue
            if kind == "pruner":
                for param, mask in self.pruners[name].compute_masks(epoch, active).items():
                    self.masks.set(param, mask)
                self.masks.apply()
            elif kind == "extension":
                self.masks.apply()
                comp = self.schedule.extensions[name]
                self.events.append({"name": name, **run_extension(comp.type, comp.config, self, epoch)})
        self.masks.apply()

    def rebind(self) -> None:
        """After the model's parameters were replaced (thinning): point pruners and
        regularizers at the new tensors."""
        params = dict(self.model.named_parameters())
        for component in (*self.pruners.values(), *self.regularizers.values()):
            component.rebind(params)

    def before_backward(self, epoch: int, loss: torch.Tensor) -> torch.Tensor:
        for name, _ in self._active("regularizer", epoch):
            loss = loss + self.regularizers[name].penalty()
        return loss

    def on_minibatch_end(self, epoch: int) -> None:
        self.masks.apply()

    def on_epoch_end(self, epoch: int, val_loss: float | None = None) -> None:
        for name, _ in self._active("lr_scheduler", epoch):
            sched = self.lr_schedulers[name]
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(val_loss)
            else:
                sched.step()

    def state_dict(self) -> dict:
        return {"masks": self.masks.state_dict(), "events": self.events,
                "lr_schedulers": {n: s.state_dict() for n, s in self.lr_schedulers.items()}}

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        self.masks.load_state_dict(state["masks"], source)
        self.events = list(state.get("events", []))
        for name, sched in self.lr_schedulers.items():
            if name in state["lr_schedulers"]:
                sched.load_state_dict(state["lr_schedulers"][name])
