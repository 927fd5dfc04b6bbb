"""From a schedule to what it names: the data set's shape, the model (a built-in or the
user's architecture, with ``model.weights`` loaded and the classifier replaced when the
class count differs), every problem collected with its line.

:func:`prepare` is shared by the run, ``compress check`` (:func:`check_schedule`) and
``compress params``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch
from torch import nn

from .. import data as data_mod
from ..data import DatasetInfo
from ..engine.build import bind_components, build_lr_schedulers, build_optimizer
from ..errors import CompressorError, DataError, ModelError
from ..io.weights import PretrainedLoad, load_pretrained
from ..models import build_model, output_count, replace_classifier, resolve_arch
from ..nn.scaling import attach_scaling_factors, resolve_scalable
from ..schedule import Schedule, read_schedule
from ..schedule.problems import Problems

__all__ = ["Prepared", "check_schedule", "example_input", "prepare"]


@dataclasses.dataclass
class Prepared:
    """What a schedule names, built; unpacks as (schedule, model, info, problems)."""

    schedule: Schedule
    model: nn.Module | None
    info: DatasetInfo | None
    problems: Problems
    pretrained: PretrainedLoad | None = None
    classifier_replaced: str | None = None

    def __iter__(self) -> Iterator:
        return iter((self.schedule, self.model, self.info, self.problems))


_FOLDER_ONLY = ("image_size", "mean", "std", "workers")


def _data_info(schedule: Schedule, data_dir: str | None, problems: Problems) -> DatasetInfo | None:
    d = schedule.data
    folder = data_mod.is_image_folder(d.dataset)
    for key in _FOLDER_ONLY if not folder else ():
        if key in d._lines:
            problems.add(d.line_of(key), f"data.{key}", f"only for dataset image_folder, not {d.dataset}")
    try:
        return data_mod.dataset_info(d.dataset, directory=data_dir or d.dir, image_size=d.image_size)
    except DataError as exc:
        key = "dataset" if not folder else ("image_size" if d.image_size is None or "image_size" in str(exc)
                                            else "dir")
        problems.add(d.line_of(key), f"data.{key}", str(exc))
    return None


def _start_model(prep: Prepared, arch: str, resume_spec: dict | None) -> None:
    """Weights (or, on resume, the recorded classifier replacement), then the output check."""
    model, spec, info = prep.model, prep.schedule.model, prep.info
    if resume_spec is not None:
        if resume_spec.get("classifier_replaced"):
            prep.classifier_replaced = resume_spec["classifier_replaced"]
            replace_classifier(model, prep.classifier_replaced, info.num_classes)
    elif spec.weights:
        before = {id(m) for m in model.modules()}
        try:
            prep.pretrained = load_pretrained(model, spec.weights, info.num_classes)
        except CompressorError as exc:
            prep.problems.add(spec.line_of("weights"), "model.weights", str(exc))
            return
        if prep.pretrained.classifier and id(model.get_submodule(prep.pretrained.classifier)) not in before:
            prep.classifier_replaced = prep.pretrained.classifier
    outputs = output_count(model, arch, info.channels, info.image_size)
    if outputs != info.num_classes:
        raise ModelError(f"{arch} returns {outputs} outputs per sample, but {info.name} has "
                         f"{info.num_classes} classes; give the model {info.num_classes} outputs "
                         f"(e.g. model.options: {{num_classes: {info.num_classes}}}) or load "
                         "model.weights (its classifier is then replaced)")


def prepare(schedule_path: str, *, text: str | None = None, epochs: int | None = None,
            data_dir: str | None = None, resume_spec: dict | None = None) -> Prepared:
    """Read a schedule and build what it names, collecting every problem with its line.
    ``resume_spec``: a checkpoint's ``model_spec`` to rebuild instead (no weights file)."""
    schedule, problems = read_schedule(schedule_path, text=text, epochs=epochs)
    prep = Prepared(schedule, None, None, problems)
    if schedule.data is not None:
        prep.info = _data_info(schedule, data_dir, problems)
    info = prep.info
    if schedule.model is not None and info is not None:
        arch = resume_spec["arch"] if resume_spec else resolve_arch(schedule.model.arch)
        try:
            prep.model = build_model(arch, num_classes=info.num_classes, in_channels=info.channels,
                                     image_size=info.image_size, options=schedule.model.options)
            _start_model(prep, arch, resume_spec)
        except ModelError as exc:
            problems.add(schedule.model.line_of("arch"), "model.arch", str(exc))
            prep.model = None
    model = prep.model
    if model is not None and schedule.model.scaling_factors:
        names, errors = resolve_scalable(model, schedule.model.scaling_factors)
        for message in errors:
            problems.add(schedule.model.line_of("scaling_factors"), "model.scaling_factors", message)
        attach_scaling_factors(model, names)
    return prep


def check_schedule(schedule_path: str, *, epochs: int | None = None) -> Schedule:
    """Every check that does not need data: raise ScheduleError listing all problems."""
    schedule, model, info, problems = prepare(schedule_path, epochs=epochs)
    if model is not None:
        bind_components(schedule, model, problems, example_input(info))
        if schedule.training is not None:
            optimizer = build_optimizer(schedule.training.optimizer, model.parameters(), problems)
            build_lr_schedulers(schedule, optimizer, problems)  # a stand-in if the optimizer failed
    problems.raise_if_any()
    return schedule


def example_input(info: DatasetInfo) -> torch.Tensor:
    """One zero image of the data set's shape (for tracing and MAC counts)."""
    return torch.zeros(1, info.channels, *info.hw)
