"""The sections of a schedule file, as dataclasses (reference: docs/schedule.md)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from .fields import Located, extra_options, option


@dataclasses.dataclass(kw_only=True)
class ModelSection(Located):
    arch: str = option(doc="`mnist_net`, `resnet18`, any torchvision classification model, or "
                           "your own: `package.module:callable` or `path/to/file.py:callable`, "
                           "called with `model.options` as keyword arguments")
    checkpoint: str | None = option(
        None, doc="dense weights to start from (a compressor checkpoint); without it the model "
                  "is trained from scratch for `training.dense_epochs`")
    weights: str | None = option(
        None, doc="pretrained weights: a plain state_dict file (`torch.save(model.state_dict())`, "
                  "as torchvision and timm ship them), loaded weights-only; the classifier (last "
                  "Linear) is replaced when the data set has another class count")
    options: dict[str, Any] = option(default_factory=dict, doc="extra arguments for the model builder")
    scaling_factors: list[str] = option(
        default_factory=list, doc="module-name patterns: each matched Conv2d, Linear or BatchNorm "
                                  "gets a learned per-channel `scale` on its output (data-driven "
                                  "sparse structure selection; prune with criterion `scaling_factor`)")


@dataclasses.dataclass(kw_only=True)
class DataSection(Located):
    dataset: str = option(doc="`fashion_mnist`, `mnist`, `cifar10`, `synthetic`, or `image_folder` "
                              "(your images: `dir` holds `train/` and `val/` with a sub-folder per class)")
    dir: str | None = option(None, doc="directory holding the files (overridden by --data-dir)")
    augment: bool = option(False, doc="random crop + horizontal flip while training (image_folder: "
                                      "random-resized crop + flip)")
    train_samples: int | None = option(None, min=1, doc="use only the first N training samples")
    test_samples: int | None = option(None, min=1, doc="use only the first N test samples")
    image_size: int | list[int] | None = option(
        None, doc="image_folder only (required there): the side of square images, or "
                  "[height, width]; images are resized and centre-cropped to it")
    mean: list[float] | None = option(None, doc="image_folder only: per-channel mean for "
                                                "normalisation (default ImageNet's)")
    std: list[float] | None = option(None, doc="image_folder only: per-channel standard deviation "
                                               "(default ImageNet's)")
    workers: int = option(2, min=0, doc="image_folder only: DataLoader worker processes reading "
                                        "the images")


@dataclasses.dataclass(kw_only=True)
class OptimizerSection(Located):
    type: str = option("SGD", doc="any torch.optim class name")
    kwargs: dict[str, Any] = extra_options("passed to the optimizer (lr, momentum, weight_decay, ...)")


@dataclasses.dataclass(kw_only=True)
class TrainingSection(Located):
    epochs: int = option(min=0, doc="epochs of the compression phase (policies count these)")
    dense_epochs: int = option(0, min=0, doc="epochs of dense training first, when no "
                                             "`model.checkpoint` is given")
    from_scratch: bool = option(False, doc="allow compressing a network that was not trained first "
                                           "(`dense_epochs: 0` and neither `model.checkpoint` nor "
                                           "`model.weights`), e.g. to train it under the schedule")
    batch_size: int = option(64, min=1)
    eval_batch_size: int = option(1000, min=1)
    max_batches_per_epoch: int | None = option(None, min=1, doc="cap on training batches per "
                                                             "epoch (quick runs)")
    optimizer: OptimizerSection = option(default_factory=OptimizerSection,
                                         doc="optimizer used in both phases")


@dataclasses.dataclass(kw_only=True)
class LoggingSection(Located):
    tensorboard: str | None = option(None, doc="directory for TensorBoard event files (also "
                                               "`--tensorboard DIR`); none by default")


@dataclasses.dataclass(kw_only=True)
class LRSchedulerConfig(Located):
    kwargs: dict[str, Any] = extra_options("passed to the torch.optim.lr_scheduler class")


@dataclasses.dataclass(kw_only=True)
class PolicySection(Located):
    pruner: str | None = option(None, doc="name of an entry under `pruners`")
    regularizer: str | None = option(None, doc="name of an entry under `regularizers`")
    lr_scheduler: str | None = option(None, doc="name of an entry under `lr_schedulers`")
    extension: str | None = option(None, doc="name of an entry under `extensions`")
    starting_epoch: int | None = option(None, min=0, doc="first epoch of an epoch window (default 0)")
    ending_epoch: int | None = option(
        None, min=1, doc="epoch after the last of an epoch window (default: `training.epochs`; "
                         "without it, open: until training stops)")
    starting_step: int | None = option(
        None, min=0, doc="first optimizer step of a step window (steps count from the first "
                         "minibatch of compression: epoch × minibatches per epoch + minibatch)")
    ending_step: int | None = option(
        None, min=1, doc="step after the last of a step window (default: open, until training stops)")
    frequency: int | None = option(None, min=1, doc="run every N epochs (every N steps in a step "
                                                    "window) within the window (default 1)")
    epochs: list[int] | None = option(None, doc="explicit epochs instead of a window")

    KINDS = ("pruner", "regularizer", "lr_scheduler", "extension")
    EPOCH_KEYS = ("starting_epoch", "ending_epoch", "epochs")
    STEP_KEYS = ("starting_step", "ending_step")

    @property
    def kind(self) -> str | None:
        named = [k for k in self.KINDS if getattr(self, k) is not None]
        return named[0] if len(named) == 1 else None

    @property
    def instance(self) -> str:
        return getattr(self, self.kind or "pruner") or ""

    @property
    def unit(self) -> str:
        """``"step"`` for a step window (optimizer steps), else ``"epoch"``."""
        return "step" if any(getattr(self, k) is not None for k in self.STEP_KEYS) else "epoch"

    def active(self, total_epochs: int | None = None) -> Sequence[int]:
        """The epochs (or, for a step window, the steps) on which the policy runs, 0-based
        and sorted: a ``range`` for a window (an open one ends at :data:`OPEN`), a list
        for explicit ``epochs``. ``total_epochs`` (``training.epochs``, when the schedule
        has it) closes an epoch window without ``ending_epoch``."""
        if self.unit == "step":
            end = OPEN if self.ending_step is None else self.ending_step
            return range(self.starting_step or 0, end, self.frequency or 1)
        if self.epochs is not None:
            return sorted(set(self.epochs))
        if self.ending_epoch is not None:
            end = self.ending_epoch
        elif total_epochs is not None:
            end = max(total_epochs, 1)  # zero training epochs still have epoch 0: prune, no training
        else:
            end = OPEN
        return range(self.starting_epoch or 0, end, self.frequency or 1)


#: The end of an open window: "until training stops".
OPEN = sys.maxsize


def is_open(active: Sequence[int]) -> bool:
    return isinstance(active, range) and active.stop == OPEN
