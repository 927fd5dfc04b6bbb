"""A compression run: dense training (or dense weights), then the compression schedule.

``CompressionRun`` owns one run directory (:mod:`.rundir`: one run per directory)::

    OUT/run.json                      the run's id, schedule and start time
    OUT/checkpoints/dense.pt          the dense model (when trained or loaded here)
    OUT/checkpoints/epoch_NNN.pt      after each compression epoch (the newest few kept)
    OUT/checkpoints/dense_epoch_NNN.pt after each dense epoch (the newest few kept)
    OUT/checkpoints/final.pt          the compressed model
    OUT/report.json, OUT/report.md, OUT/plots/*.png, OUT/epochs.csv

Each checkpoint holds everything needed to continue (weights, masks, optimizer and
lr-scheduler state, RNG state, history, the schedule text and the run's effective
settings, :mod:`.settings`), so ``--resume-from`` any of them finishes with the same
weights as an uninterrupted run. An interrupted run (Ctrl-C, SIGTERM) writes its
report, marked partial, before it stops.

The model is the schedule's ``model.arch`` (a built-in name or the user's callable),
started from ``model.weights`` (a plain state_dict, :mod:`compressor.io.weights`) or
``model.checkpoint`` or trained dense first. Training minimises cross-entropy of the
logits against the labels; any other loss, task or data pipeline is for the Python API
(``compressor.file_config`` with the user's own training loop).
"""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import torch

from .. import data as data_mod
from ..engine.build import build_optimizer, build_scheduler
from ..engine.scheduler import CompressionScheduler
from ..engine.sparsity import summarize
from ..engine.thinning import apply_recipe, thinning_recipe
from ..errors import CheckpointError, CompressorError
from ..io.checkpoint import Phase, is_sparse_state, load_checkpoint, save_checkpoint
from ..models import resolve_arch
from ..nn.scaling import load_with_new_scales, scaled_modules
from ..schedule import Schedule
from ..schedule.loader import read_schedule_file
from ..schedule.problems import Problems
from .logging import RunLog
from .prepare import Prepared, check_schedule, example_input, prepare
from .report import write_report
from .rundir import check_run_dir, claim_run_dir
from .settings import check_device, normalize_data_dir, resumed_settings
from .train import evaluate, train_epoch

__all__ = ["CompressionRun", "Prepared", "RunOptions", "check_schedule", "example_input", "prepare"]


@dataclasses.dataclass
class RunOptions:
    schedule: str | None = None
    out: str | None = None
    resume_from: str | None = None
    data_dir: str | None = None
    epochs: int | None = None
    device: str | None = None  # None: cpu, or the checkpoint's
    seed: int | None = None
    threads: int | None = None
    max_batches_per_epoch: int | None = None
    keep_checkpoints: int = 2
    progress: bool | None = None
    overwrite: bool = False
    tensorboard: str | None = None


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
            "python_version": random.getstate()[0]}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((state["python_version"], tuple(state["python"]), None))


def _epoch_generator(seed: int, phase: Phase, epoch: int) -> torch.Generator:
    # Data order depends only on (seed, phase, epoch): resumable without saving it.
    return torch.Generator().manual_seed(
        seed * 1_000_003 + (0 if phase == Phase.DENSE else 500_009) + epoch)


class CompressionRun:
    def __init__(self, options: RunOptions, log: Callable[[str], None] = print) -> None:
        self.opt = options
        self.log = log
        self.resume: dict | None = None
        if options.resume_from:
            self.resume = load_checkpoint(options.resume_from)
        if self.resume is not None and self.resume.get("phase") == Phase.MODEL:
            raise CheckpointError(f"{options.resume_from} was written by compressor.save (a model of "
                                  "your own loop); load it with compressor.load(path, model=...), "
                                  "it cannot be resumed by `compress`")
        if self.resume is not None and self.resume.get("phase") == Phase.THINNED:
            raise CheckpointError(f"{options.resume_from} was thinned offline (`compress thin`) for "
                                  "inference; load it with compressor.load, it cannot be resumed")
        if self.resume is not None and is_sparse_state(self.resume):
            raise CheckpointError(f"{options.resume_from} is a sparse inference checkpoint (`compress "
                                  "sparse`); load it with compressor.load, it cannot be resumed")
        given = {"epochs": options.epochs, "max_batches_per_epoch": options.max_batches_per_epoch,
                 "data_dir": options.data_dir, "seed": options.seed, "threads": options.threads,
                 "device": options.device}
        if self.resume is not None:
            settings = resumed_settings(self.resume.get("settings"), given, options.resume_from)
            path, text = self.resume["schedule"]["path"], self.resume["schedule"]["text"]
            if options.schedule is not None and read_schedule_file(options.schedule) != text:
                raise CompressorError(f"--schedule {options.schedule} differs from the schedule stored "
                                      f"in {options.resume_from} ({path}); a resumed run keeps its "
                                      "schedule: resume without --schedule")
            self.run_id = str(self.resume.get("run_id") or uuid.uuid4().hex)
        elif options.schedule is not None:
            path, text = options.schedule, None
            settings = {**given, "seed": options.seed or 0, "device": options.device or "cpu",
                        "data_dir": normalize_data_dir(options.data_dir)}
            self.run_id = uuid.uuid4().hex
        else:
            raise CompressorError("give --schedule FILE (or --resume-from a checkpoint that holds one)")
        if settings["threads"] is not None:
            if settings["threads"] < 1:
                raise CompressorError(f"--threads must be at least 1, got {settings['threads']}")
            torch.set_num_threads(settings["threads"])
        settings["threads"] = torch.get_num_threads()
        self.device = check_device(settings["device"])
        settings["device"] = str(self.device)
        self.seed = settings["seed"]
        torch.manual_seed(self.seed)
        random.seed(self.seed)

        prep: Prepared = prepare(path, text=text, epochs=settings["epochs"], data_dir=settings["data_dir"],
                       resume_spec=self.resume["model_spec"] if self.resume else None)
        schedule, model, info, problems = prep
        self.prepared = prep
        self.schedule = schedule
        if model is None:
            problems.raise_if_any()
        if prep.pretrained is not None:
            log(prep.pretrained.describe())
        recipe = self.resume.get("thinning") if self.resume else None
        if recipe:  # the checkpoint holds a thinned model: rebuild its shape first
            apply_recipe(model, recipe, source=str(options.resume_from))
        model.to(self.device)
        self.model = model
        self.example = example_input(info).to(self.device)
        training = schedule.training
        self.optimizer = build_optimizer(training.optimizer, model.parameters(),
                                         problems) if training else None
        scheduler = build_scheduler(schedule, model, self.optimizer, problems, self.example)
        problems.raise_if_any()
        self.training = training
        self.info = info
        self.scheduler: CompressionScheduler = scheduler
        self.out = Path(options.out) if options.out else _default_out(schedule, options.resume_from)
        self.ckpt_dir = self.out / "checkpoints"
        if settings["max_batches_per_epoch"] is None:
            settings["max_batches_per_epoch"] = training.max_batches_per_epoch
        self.max_batches = settings["max_batches_per_epoch"]
        if self.max_batches is not None and self.max_batches < 1:
            raise CompressorError(f"--max-batches-per-epoch must be at least 1, got {self.max_batches}")
        settings["epochs"] = training.epochs
        if settings["data_dir"] is None:  # the schedule's, made absolute: resumable from anywhere
            settings["data_dir"] = normalize_data_dir(schedule.data.dir)
        self.settings = settings
        self.history: list[dict] = []
        self.dense_metrics: dict | None = None
        self.timing: dict[str, float] = {}
        self.train_split = self.test_split = None
        self.last_checkpoint: Path | None = None
        tensorboard = options.tensorboard or (schedule.logging.tensorboard if schedule.logging else None)
        self.runlog = RunLog(self.out, tensorboard, dense_epochs=training.dense_epochs)

    # ------------------------------------------------------------------ data
    def _load_data(self) -> None:
        d = self.schedule.data
        directory = self.settings["data_dir"] or d.dir
        t0 = time.perf_counter()
        if data_mod.is_image_folder(d.dataset):
            folder = {"image_size": d.image_size, "mean": d.mean, "std": d.std, "workers": d.workers}
            self.train_split = data_mod.load_folder_split(directory, "train", limit=d.train_samples,
                                                          augment=d.augment, **folder)
            self.test_split = data_mod.load_folder_split(directory, "test", limit=d.test_samples, **folder)
        else:
            self.train_split = data_mod.load_split(d.dataset, "train", directory, limit=d.train_samples)
            self.test_split = data_mod.load_split(d.dataset, "test", directory, limit=d.test_samples)
        self.timing["data_load_s"] = time.perf_counter() - t0
        self.log(f"data: {d.dataset} — {len(self.train_split)} train / {len(self.test_split)} test samples")

    # ------------------------------------------------------------ checkpoints
    def _state(self, phase: Phase, epochs_done: int, optimizer: torch.optim.Optimizer) -> dict:
        return {
            "phase": phase.value, "epochs_done": epochs_done, "seed": self.seed, "run_id": self.run_id,
            "settings": dict(self.settings),
            "model_spec": {"arch": resolve_arch(self.prepared_arch),
                           "options": dict(self.schedule.model.options),
                           "num_classes": self.info.num_classes, "in_channels": self.info.channels,
                           "image_size": _plain_size(self.info.image_size),
                           "dataset": self.schedule.data.dataset,
                           "classifier_replaced": self.prepared.classifier_replaced,
                           "scaling_factors": scaled_modules(self.model)},
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": _rng_state(),
            "schedule": {"path": self.schedule.path, "text": self.schedule.text},
            "history": self.history, "dense": self.dense_metrics,
            "thinning": thinning_recipe(self.model),
        }

    @property
    def prepared_arch(self) -> str:
        return self.resume["model_spec"]["arch"] if self.resume else self.schedule.model.arch

    def _save(self, name: str, phase: Phase, epochs_done: int, optimizer,
              prefix: str | None = None) -> Path:
        path = save_checkpoint(self.ckpt_dir / name, self._state(phase, epochs_done, optimizer))
        self.last_checkpoint = path
        if prefix is not None and self.opt.keep_checkpoints > 0:
            old = sorted(self.ckpt_dir.glob(f"{prefix}[0-9][0-9][0-9].pt"))
            for stale in old[:-self.opt.keep_checkpoints]:
                stale.unlink(missing_ok=True)
        return path

    def _load_model_weights(self, state: dict, source: str, new_scales: bool = False) -> None:
        """Load ``state``'s weights; with ``new_scales`` (dense weights to start from) the
        schedule's scaling factors may be missing from them and start at 1."""
        try:
            if new_scales:
                load_with_new_scales(self.model, state["model"])
            else:
                self.model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{source}: weights do not fit {self.schedule.model.arch}: {exc}") from None

    def _restore(self, state: dict, optimizer: torch.optim.Optimizer) -> None:
        source = self.opt.resume_from
        self._load_model_weights(state, source)
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{source}: optimizer state does not fit: {exc}") from None
        self.scheduler.load_state_dict(state["scheduler"], source)
        _set_rng_state(state["rng"])
        self.history = list(state["history"])
        self.dense_metrics = state["dense"]

    # ---------------------------------------------------------------- phases
    def _epoch(self, phase: Phase, epoch: int, optimizer, scheduler) -> dict:
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        if scheduler:
            scheduler.on_epoch_begin(epoch)
        loss = train_epoch(self.model, self.train_split, optimizer, epoch=epoch,
                           batch_size=self.training.batch_size,
                           generator=_epoch_generator(self.seed, phase, epoch),
                           augment=self.schedule.data.augment, limit_batches=self.max_batches,
                           scheduler=scheduler, device=self.device,
                           desc=f"{phase} epoch {epoch}", progress=self.opt.progress)
        metrics = self._evaluate(f"{phase} eval {epoch}")
        if scheduler:
            scheduler.on_epoch_end(epoch, metrics["loss"])
        record = {"phase": phase.value, "epoch": epoch, "lr": lr, "loss": loss,
                  "top1": metrics["top1"], "top5": metrics["top5"], "val_loss": metrics["loss"],
                  "seconds": time.perf_counter() - t0,
                  "batches": _num_batches(self.train_split, self.training.batch_size, self.max_batches),
                  "params": sum(p.numel() for p in self.model.parameters())}
        if scheduler:
            record["sparsity"] = self._sparsity_record(epoch)
        self.history.append(record)
        self.runlog.epoch(record, self.history)
        sp = f"  sparsity {record['sparsity']['actual']:.3f} (target {record['sparsity']['target']:.3f})" \
            if scheduler and self.scheduler.targeted else ""
        thinned = [e for e in self.scheduler.events if "params_before" in e] if scheduler else []
        if thinned:  # removed channels are no longer zeros: show the size instead
            sp += (f"  params {record['params']:,} of {thinned[0]['params_before']:,} (thinned)")
        self.log(f"{phase} epoch {epoch:3d}  lr {lr:.3g}  loss {loss:.4f}  top1 {metrics['top1']:.2f}%{sp}"
                 f"  ({record['seconds']:.1f}s)")
        return record

    def _sparsity_record(self, epoch: int) -> dict:
        levels = self.scheduler.target_levels(epoch)
        params = dict(self.model.named_parameters())
        targeted = self.scheduler.targeted
        numel = sum(params[n].numel() for n in targeted)
        target = sum(levels.get(n, 0.0) * params[n].numel() for n in targeted) / numel if numel else 0.0
        stats = summarize(self.model, targeted)
        return {"target": target, "actual": stats["targeted"], "total": stats["total"],
                "layers": {n: stats["layers"][n]["sparsity"] for n in targeted}}

    def _evaluate(self, desc: str) -> dict:
        return evaluate(self.model, self.test_split, batch_size=self.training.eval_batch_size,
                        device=self.device, desc=desc, progress=self.opt.progress)

    def _dense_phase(self, start_epoch: int) -> None:
        spec = self.schedule.model
        if spec.checkpoint:
            state = load_checkpoint(spec.checkpoint)
            self._load_model_weights(state, spec.checkpoint, new_scales=True)
            self.log(f"dense weights from {spec.checkpoint}")
        else:
            problems = Problems(self.schedule.path)
            optimizer = build_optimizer(self.training.optimizer, self.model.parameters(), problems)
            problems.raise_if_any()
            if self.resume is not None and self.resume["phase"] == Phase.DENSE:
                self._restore(self.resume, optimizer)
            for epoch in range(start_epoch, self.training.dense_epochs):
                self._epoch(Phase.DENSE, epoch, optimizer, None)
                self._save(f"dense_epoch_{epoch:03d}.pt", Phase.DENSE, epoch + 1, optimizer,
                           prefix="dense_epoch_")
        self.dense_metrics = self._evaluate("dense eval")
        self.log(f"dense model: top1 {self.dense_metrics['top1']:.2f}%  "
                 f"top5 {self.dense_metrics['top5']:.2f}%")
        self._save("dense.pt", Phase.COMPRESS, 0, self.optimizer)

    def execute(self) -> dict:
        """Run (or resume) to the end; returns the report dict. Interrupted (Ctrl-C,
        SIGTERM), it writes the report marked partial, then lets the interrupt through."""
        remove = check_run_dir(self.out, self.run_id, overwrite=self.opt.overwrite,
                               resume_from=self.opt.resume_from)
        try:
            return self._execute(remove)
        except KeyboardInterrupt:
            if self.test_split is not None:
                write_report(self, None, None, status="interrupted")
                self.log(f"interrupted: partial report in {self.out / 'report.md'}")
            raise
        finally:
            self.runlog.close()

    def _execute(self, remove: list[str]) -> dict:
        self._load_data()
        claim_run_dir(self.out, self.run_id, self.schedule.path, remove, self.log)
        t0 = time.perf_counter()
        phase, done = ((self.resume["phase"], int(self.resume["epochs_done"])) if self.resume
                       else (Phase.DENSE, 0))
        if phase == Phase.DENSE:
            self._dense_phase(done)
            done = 0
        else:
            self._restore(self.resume, self.optimizer)
            self.log(f"resumed from {self.opt.resume_from}: {phase}, {done} epochs done")
        self.model.to(self.device)
        if self.training.epochs == 0 and done == 0:  # prune (and thin) without training
            self.scheduler.on_epoch_begin(0)
            self.log(f"compress epoch 0 without training: sparsity "
                     f"{self._sparsity_record(0)['actual']:.3f}")
        for epoch in range(done, self.training.epochs):
            self._epoch(Phase.COMPRESS, epoch, self.optimizer, self.scheduler)
            self._save(f"epoch_{epoch:03d}.pt", Phase.COMPRESS, epoch + 1, self.optimizer,
                       prefix="epoch_")
        self.scheduler.masks.apply()
        final = self._evaluate("final eval")
        self.timing["run_s"] = time.perf_counter() - t0
        final_path = self._save("final.pt", Phase.DONE, self.training.epochs, self.optimizer)
        report = write_report(self, final, final_path, status="complete")
        self.runlog.structure(report["structure"]["totals"])
        return report


def _num_batches(split, batch_size: int, limit: int | None) -> int:
    if isinstance(split, data_mod.Split):
        return data_mod.num_batches(split, batch_size, limit)
    return split.num_batches(batch_size, limit)


def _plain_size(size: int | tuple[int, int]) -> int | list[int]:
    return list(size) if isinstance(size, tuple) else size


def _default_out(schedule: Schedule, resume_from: str | None) -> Path:
    """A resumed run continues in its own directory; a new one goes to runs/<schedule>."""
    if resume_from:
        ckpt_dir = Path(resume_from).resolve().parent
        return ckpt_dir.parent if ckpt_dir.name == "checkpoints" else ckpt_dir
    return Path("runs") / Path(schedule.path).stem
