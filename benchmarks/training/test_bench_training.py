"""A masked training step of ResNet-18 against an unmasked one (same run, 1 thread).

The masked step is what the compression scheduler adds to every minibatch: the
fused C++ mask application over every conv and fc weight after the optimizer step.
``python -m benchmarks.training.ratio`` prints the overhead as a ratio.
"""

from __future__ import annotations

import pytest

from ..common import bench_threads
from .cases import make_step


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
