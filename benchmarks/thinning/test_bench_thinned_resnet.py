"""Dense vs thinned (50% of every prunable group's filters) ResNet-18 inference.

``python -m benchmarks.thinning.resnet`` prints the speed-ups beside the MAC ratios.
"""

from __future__ import annotations

import pytest
import torch

from compressor.engine.thinning import TOTAL, count_macs

from .resnet import thinned_pair


@pytest.mark.parametrize("variant", ["dense", "thinned"])
def test_resnet18_inference(benchmark, variant):
    image, batch = (32, 1) if benchmark.disabled else (224, 1)
    dense, thinned, example = thinned_pair(image)
    model = dense if variant == "dense" else thinned
    benchmark.group = f"resnet18 inference {image}x{image} batch {batch} ({torch.get_num_threads()} thread)"
    x = torch.randn(batch, 3, image, image)
    with torch.no_grad():
        out = benchmark.pedantic(model, args=(x,), rounds=1 if benchmark.disabled else 10,
                                 warmup_rounds=0 if benchmark.disabled else 1)
    assert out.shape == (batch, 1000)
    dense_macs = count_macs(dense, example)[TOTAL]["macs"]
    thin_macs = count_macs(thinned, example)[TOTAL]["macs"]
    assert 3.0 < dense_macs / thin_macs < 4.5  # halving both axes of most convs ≈ 4× fewer MACs
