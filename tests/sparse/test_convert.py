"""compressor.sparse.convert: pruned layers swapped for sparse-kernel layers, equal outputs
(compressor/sparse/convert.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compressor.sparse import SparseConv2d, SparseLinear, convert
from compressor.sparse.modules import is_nm24

from ..helpers import close, pruned, two_four

# ---- convert -----------------------------------------------------------------------------

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1, groups=4), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 8 * 8, 256), nn.ReLU(),
                                  nn.Linear(256, 10))

    def forward(self, x):
        return self.head(self.features(x))


def pruned_cnn(sparsity: float = 0.9) -> nn.Module:
    model = SmallCNN().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                k = round(sparsity * w.numel())
                thresh = w.abs().flatten().kthvalue(k).values
                w.mul_(w.abs() > thresh)
    return model


def test_convert_equals_masked_dense():
    model = pruned_cnn()
    x = torch.randn(4, 3, 16, 16)
    report = []
    converted = convert(model, example_inputs=x, time_budget=1.0, report=report)
    assert converted is not model
    assert not any(isinstance(m, (SparseLinear, SparseConv2d)) for m in model.modules())
    with torch.no_grad():
        close(converted(x), model(x), 2048)
    by_name = {r.name: r for r in report}
    assert by_name["features.6"].choice == "dense" and "groups=4" in by_name["features.6"].reason
    timed = [r for r in report if r.reason == "measured"]
    assert len(timed) == 5 and all("dense" in r.times_ms and "csr" in r.times_ms for r in timed)
    assert by_name["head.1"].input_shape == (4, 2048)
    for r in timed:  # the fastest candidate, sparse only when it beat dense by the margin
        assert r.times_ms[r.choice] == min(r.times_ms.values()) or r.choice == "dense"
        if r.choice != "dense":
            assert r.times_ms[r.choice] < r.times_ms["dense"]
        module = converted.get_submodule(r.name)
        assert getattr(module, "format", "dense") == r.choice


def test_convert_heuristic_fuse_relu_inplace_and_thresholds():
    model = pruned_cnn()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
    fused = convert(model, measure=False, fuse_relu=True)
    assert isinstance(fused.head[1], SparseLinear) and fused.head[1].relu
    assert isinstance(fused.head[2], nn.Identity)
    assert isinstance(fused.features[0], SparseConv2d) and fused.features[0].relu
    with torch.no_grad():
        close(fused(x), expected, 2048)
    report = []
    same = convert(model, measure=False, min_sparsity=0.95, inplace=True, report=report)
    assert same is model and not any(isinstance(m, (SparseLinear, SparseConv2d))
                                     for m in model.modules())
    assert all("below min_sparsity" in r.reason or "groups" in r.reason for r in report)
    with pytest.raises(ValueError, match="min_sparsity must be in"):
        convert(model, min_sparsity=1.5)
    with pytest.raises(ValueError, match="formats must be a sequence"):
        convert(model, formats=("csr", "dense"))


def test_convert_picks_2to4_and_blocks_when_applicable():
    lin = nn.Sequential(nn.Linear(64, 32), nn.Linear(64, 64))
    with torch.no_grad():
        lin[0].weight.copy_(two_four(torch.randn(32, 64)))
        lin[1].weight.copy_(pruned(64, 64, 0.9, (4, 1)))
        lin[1].weight[:4, :3] = 1.0  # 3 non-zeros in a group of 4: not 2:4
    report = []
    out = convert(lin, measure=False, report=report)
    assert [r.choice for r in report] == ["2:4", "4x1"]
    assert out[0].format == "2:4" and out[1].format == "4x1"
    assert is_nm24(out[0].dense_weight())


def test_sparse_linear_under_torch_compile():
    dense = nn.Linear(48, 24)
    with torch.no_grad():
        dense.weight.copy_(pruned(24, 48, 0.8))
    sparse = SparseLinear.from_dense(dense, relu=True)
    compiled = torch.compile(sparse, fullgraph=True)
    for batch in (3, 5):
        x = torch.randn(batch, 48)
        with torch.no_grad():
            close(compiled(x), F.relu(dense(x)), 48)


def test_convert_times_a_layer_without_example_inputs():
    # A 90% sparse 1024 x 1024 layer at batch 1 (no example input): CSR wins.
    lin = nn.Linear(1024, 1024)
    with torch.no_grad():
        lin.weight.mul_(torch.rand_like(lin.weight) > 0.9)
    report = []
    convert(lin, time_budget=0.2, report=report)
    assert report[0].choice == "csr" and math.isfinite(report[0].times_ms["csr"])


# ---- int8 ----------------------------------------------------------------------------------

def test_convert_int8_times_int8_candidates_and_keeps_outputs_close():
    from compressor.sparse import DenseLinearInt8, SparseLinearInt8

    model = pruned_cnn()
    with torch.no_grad():
        model.head[3].weight.copy_(torch.randn(10, 256))  # a dense Linear: timed against dense int8
    x = torch.randn(2, 3, 16, 16)
    report = []
    converted = convert(model, example_inputs=x, time_budget=1.0, report=report, dtype="int8",
                        fuse_relu=True)
    by_name = {r.name: r for r in report}
    fc1, fc2 = by_name["head.1"], by_name["head.3"]
    assert {"dense", "csr", "csr+w8", "csr+q8", "dense+q8"} <= set(fc1.times_ms)
    assert set(fc2.times_ms) == {"dense", "dense+q8"} and fc2.reason == "measured"
    assert all("+" not in k for r in report if r.kind == "Conv2d" for k in r.times_ms)
    for r, module in ((fc1, converted.head[1]), (fc2, converted.head[3])):
        kind = {"dense": nn.Linear, "dense+q8": DenseLinearInt8}.get(
            r.choice, SparseLinearInt8 if "+" in r.choice else SparseLinear)
        assert isinstance(module, kind), (r.choice, module)
    with torch.no_grad():
        want = model(x)
        assert (converted(x) - want).abs().max() < 0.05 * want.abs().max()  # int8 rounding only
    # the heuristic picks the int8 x int8 variant of its format
    report = []
    convert(model, measure=False, report=report, dtype="int8")
    assert {r.name: r.choice for r in report}["head.1"] in ("csr+q8", "4x1+q8", "1x4+q8")
    with pytest.raises(ValueError, match="dtype must be one of"):
        convert(model, dtype="float16")
