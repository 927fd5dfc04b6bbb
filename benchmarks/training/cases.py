"""The workload of the training benchmarks: a ResNet-18 training step, masked or not.

Shared by ``test_bench_training.py`` (pytest-benchmark) and ``ratio.py`` (the overhead
as a ratio).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from compressor.engine.masks import MaskStore
from compressor.models import build_model


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
