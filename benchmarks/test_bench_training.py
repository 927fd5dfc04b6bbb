"""A masked training step of ResNet-18 against an unmasked one (same run, 1 thread).

The masked step is what the compression scheduler adds to every minibatch: the
fused C++ mask application over every conv and fc weight after the optimizer step.
``python benchmarks/training_ratio.py`` prints the overhead as a ratio.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from compressor.engine.masks import MaskStore
from compressor.models import build_model

from mask_cases import bench_threads


def make_step(batch: int, image: int, masked: bool, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=image)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    store = MaskStore(model)
    if masked:
        for name, p in model.named_parameters():
            if p.dim() > 1:
                store.set(name, torch.rand(p.shape) > 0.8)  # 80% pruned
        store.apply()
    x = torch.randn(batch, 3, image, image)
    y = torch.randint(0, 10, (batch,))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if masked:
            store.apply()
        return loss

    return model, store, step


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_resnet18_training_step(benchmark, masked):
    small = benchmark.disabled
    batch, image = (2, 32) if small else (32, 32)
    benchmark.group = f"resnet18 train step b{batch} {image}x{image} ({bench_threads()} thread)"
    model, store, step = make_step(batch, image, masked)
    step()  # warm-up
    benchmark.pedantic(step, rounds=1 if small else 15, iterations=1, warmup_rounds=0 if small else 2)
    if masked:
        for name, mask in store.items():
            assert (dict(model.named_parameters())[name].detach()[~mask] == 0).all(), name
