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

from .binding import Bound
from .masks import MaskStore
from .schedule.loader import Schedule


class CompressionScheduler:
    def __init__(self, schedule: Schedule, model: nn.Module, bound: Bound,
                 lr_schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler]) -> None:
        self.schedule = schedule
        self.model = model
        self.pruners = bound.pruners
        self.regularizers = bound.regularizers
        self.lr_schedulers = lr_schedulers
        self.masks = MaskStore(model)
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
        for name, active in self._active("pruner", epoch):
            for param, mask in self.pruners[name].compute_masks(epoch, active).items():
                self.masks.set(param, mask)
        self.masks.apply()

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
        return {"masks": self.masks.state_dict(),
                "lr_schedulers": {n: s.state_dict() for n, s in self.lr_schedulers.items()}}

    def load_state_dict(self, state: dict, source: str = "checkpoint") -> None:
        self.masks.load_state_dict(state["masks"], source)
        for name, sched in self.lr_schedulers.items():
            if name in state["lr_schedulers"]:
                sched.load_state_dict(state["lr_schedulers"][name])
