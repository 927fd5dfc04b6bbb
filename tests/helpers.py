"""Helpers shared by the tests: the repository, running the CLI in-process, masks, a valid
schedule, sparse test weights and checkpoints as ``compress`` writes them."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from compressor.graph import find_groups, group_zero_masks
from compressor.io.checkpoint import save_checkpoint
from compressor.models import build_model

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> int:
    """``compress ARGS`` in-process, without progress bars, on one thread; its exit status."""
    from compressor.cli import main

    return main(["--no-progress", "--threads", "1", *args])


def run_schedule(root: Path, text: str, name: str = "s.yaml") -> Path:
    """Write ``text`` to ``root/name`` and run it into ``root/out`` keeping every
    checkpoint; returns ``root/out``."""
    path = root / name
    path.write_text(text)
    out = root / "out"
    assert run_cli("--schedule", str(path), "--out", str(out), "--keep-checkpoints", "0") == 0
    return out


def combine_masks(into: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> None:
    """Add keep-masks to ``into``; a parameter masked twice keeps what both keep."""
    for name, mask in masks.items():
        into[name] = into[name] & mask if name in into else mask


def apply_masks(model: torch.nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Multiply keep-masks ({parameter name: bool tensor}) into the model's parameters."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)


# A complete, valid schedule on the synthetic data set: mnist_net at 28×28.
VALID_SCHEDULE = """\
version: 1
model:
  arch: mnist_net
data:
  dataset: synthetic
  train_samples: 256
  test_samples: 128
training:
  dense_epochs: 1
  epochs: 4
  batch_size: 32
  optimizer:
    type: SGD
    lr: 0.05
    momentum: 0.9
pruners:
  fc_agp:
    type: agp
    weights: [fc1.weight]
    initial_sparsity: 0.1
    final_sparsity: 0.8
  conv_level:
    type: level
    weights: {conv2.weight: 0.5}
lr_schedulers:
  step:
    type: StepLR
    step_size: 2
    gamma: 0.5
regularizers:
  small_l1:
    type: l1
    weights: [fc2.weight]
    strength: 1.0e-5
policies:
  - pruner: fc_agp
    starting_epoch: 0
    ending_epoch: 3
  - pruner: conv_level
    epochs: [1]
  - regularizer: small_l1
  - lr_scheduler: step
"""


# ---- sparse weights ------------------------------------------------------------------------
BLOCKS = {"csr": (1, 1), "4x1": (4, 1), "1x4": (1, 4)}


def pruned(out: int, inp: int, sparsity: float, block: tuple[int, int] = (1, 1),
           gen: torch.Generator | None = None) -> torch.Tensor:
    """A random weight with round(sparsity * blocks) whole (R, C) blocks zeroed."""
    r, c = block
    rows, cols = -(-out // r), -(-inp // c)
    keep = torch.ones(rows * cols, dtype=torch.bool)
    keep[torch.randperm(rows * cols, generator=gen)[:round(sparsity * rows * cols)]] = False
    mask = keep.view(rows, cols).repeat_interleave(r, 0).repeat_interleave(c, 1)[:out, :inp]
    return torch.randn(out, inp, generator=gen) * mask


def two_four(w: torch.Tensor) -> torch.Tensor:
    """Keep the 2 largest |w| of every 4 consecutive inputs (the last group may be short)."""
    out, inp = w.shape
    g = F.pad(w, (0, -inp % 4)).view(out, -1, 4)
    drop = g.abs().argsort(-1)[..., :2]
    return g.scatter(-1, drop, 0.0).view(out, -1)[:, :inp].contiguous()


def weight_for(fmt: str, out: int, inp: int, sparsity: float) -> torch.Tensor:
    if fmt == "2:4":
        w = two_four(torch.randn(out, inp))
        return w * (torch.rand(out, inp) >= sparsity)  # sparser than 2:4 is still 2:4
    return pruned(out, inp, sparsity, BLOCKS[fmt])


def close(actual: torch.Tensor, expected: torch.Tensor, k: int) -> None:
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * (k + 10))



# ---- checkpoints as a run writes them ------------------------------------------------------
SPEC = {"arch": "mnist_net", "options": {}, "num_classes": 10, "in_channels": 1, "image_size": 28,
        "dataset": "synthetic", "scaling_factors": []}


def two_four_mask(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """A mask with 2 of every 4 consecutive inputs kept."""
    scores = torch.rand(*shape[:-1], shape[-1] // 4, 4, generator=gen)
    keep = torch.zeros_like(scores, dtype=torch.bool)
    keep.scatter_(-1, scores.topk(2, dim=-1).indices, True)
    return keep.reshape(shape)


def masked_checkpoint(path: Path, *, structured: bool = False, seed: int = 0) -> Path:
    """A mnist_net checkpoint as a run writes it, pruned: conv2 75% and fc1 90% unstructured,
    fc2 2:4; with ``structured`` also 8 of conv1's 32 channels zeroed (thinnable). The
    weights are *not* multiplied by the masks: `compress sparse` applies them."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_model("mnist_net", num_classes=10, in_channels=1, image_size=28)
    params = dict(model.named_parameters())
    masks = {"conv2.weight": torch.rand(params["conv2.weight"].shape, generator=gen) >= 0.75,
             "fc1.weight": torch.rand(params["fc1.weight"].shape, generator=gen) >= 0.9,
             "fc2.weight": two_four_mask(tuple(params["fc2.weight"].shape), gen)}
    if structured:
        group = next(g for g in find_groups(model, torch.zeros(1, 1, 28, 28))
                     if "conv1" in g.modules("producer"))
        combine_masks(masks, group_zero_masks(model, group, range(0, 32, 4)))
    save_checkpoint(path, {"phase": "compress", "model_spec": SPEC, "model": model.state_dict(),
                           "scheduler": {"masks": masks}, "thinning": None})
    return path


def resnet_checkpoint(path: Path) -> tuple[Path, nn.Module]:
    """A resnet18 (32x32) checkpoint with every conv 90% pruned by its masks and random
    BatchNorm statistics; also the masked model (eval mode)."""
    gen = torch.Generator().manual_seed(3)
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=32)
    masks = {}
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                masks[f"{name}.weight"] = torch.rand(m.weight.shape, generator=gen) >= 0.9
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    spec = dict(SPEC, arch="resnet18", in_channels=3, image_size=32)
    save_checkpoint(path, {"phase": "compress", "model_spec": spec, "model": model.state_dict(),
                           "scheduler": {"masks": masks}, "thinning": None})
    apply_masks(model, masks)
    return path, model.eval()


# ---- image folders -------------------------------------------------------------------------
IMAGE_CLASSES = ("ant", "bee", "cat")


def make_image_folder(root: Path, *, train: int = 4, val: int = 2, size: tuple[int, int] = (24, 30),
                      classes: tuple[str, ...] = IMAGE_CLASSES, seed: int = 0) -> Path:
    """``root/train/<class>/*.png`` and ``root/val/<class>/*.png``: RGB images of ``size``
    (height, width), each class a different mean colour plus noise, so it is learnable."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for c, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            colour = np.array([60 + 80 * ((c + k) % 3) for k in range(3)], dtype=np.float64)
            for i in range(count):
                pixels = colour + rng.normal(0, 25, size=(*size, 3))
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")
                image.save(folder / f"{split}_{i:03d}.png")
    return root
