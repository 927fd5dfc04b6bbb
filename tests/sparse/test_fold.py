"""convert folds an eval-mode BatchNorm2d into the converted conv before it (and the
learned scaling factors of scaled layers into the packed weights): same outputs, the
BatchNorm becomes nn.Identity, and only where that is exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compressor.models import build_model
from compressor.nn.scaling import attach_scaling_factors
from compressor.sparse import SparseConv2d, convert


def prune_(model: nn.Module, sparsity: float = 0.8, seed: int = 0) -> nn.Module:
    """Zero a random ``sparsity`` of every conv weight; random BatchNorm statistics and
    affine parameters (so that folding is not an identity); eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(torch.rand(m.weight.shape, generator=gen) >= sparsity)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.randn(m.num_features, generator=gen))
                    m.bias.copy_(torch.randn(m.num_features, generator=gen))
    return model.eval()


class Block(nn.Module):
    """conv -> bn in Python code (not a Sequential), a conv with a bias, an affine-free
    BatchNorm, a conv whose output is also read elsewhere, and a BatchNorm called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(8, affine=False)
        self.conv3 = nn.Conv2d(8, 8, 1, bias=False)  # output also added below: no fold
        self.bn3 = nn.BatchNorm2d(8)
        self.conv4 = nn.Conv2d(8, 8, 1, bias=False)
        self.bn4 = nn.BatchNorm2d(8)                 # called twice: no fold

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        z = self.conv3(y)
        y = self.bn3(z) + z
        return self.bn4(self.bn4(self.conv4(y)))


def converted_layers(model: nn.Module) -> set[str]:
    return {n for n, m in model.named_modules() if isinstance(m, SparseConv2d)}


def test_folds_exactly_where_the_batchnorm_is_the_only_reader():
    model = prune_(Block())
    x = torch.randn(2, 3, 12, 12)
    report = []
    out = convert(model, measure=False, min_sparsity=0.5, report=report)
    assert converted_layers(out) == {"conv1", "conv2", "conv3", "conv4"}
    assert {r.name: r.batchnorm for r in report} == {"conv1": "bn1", "conv2": "bn2", "conv3": "", "conv4": ""}
    assert isinstance(out.bn1, nn.Identity) and isinstance(out.bn2, nn.Identity)
    assert isinstance(out.bn3, nn.BatchNorm2d) and isinstance(out.bn4, nn.BatchNorm2d)
    assert out.conv1.bias is not None  # the BatchNorm's shift lives in the bias now
    with torch.no_grad():
        torch.testing.assert_close(out(x), model(x), rtol=1e-4, atol=1e-4)
    assert isinstance(model.bn1, nn.BatchNorm2d)  # the original is untouched


def test_fold_keeps_the_sparsity_pattern_and_can_be_turned_off():
    model = prune_(Block())
    folded = convert(model, measure=False)
    kept = convert(model, measure=False, fold_batchnorm=False)
    assert isinstance(kept.bn1, nn.BatchNorm2d) and kept.conv1.bias is None
    assert torch.equal(folded.conv1.dense_weight() != 0, model.conv1.weight != 0)
    x = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), kept(x), rtol=1e-4, atol=1e-4)


def test_training_mode_batchnorm_is_not_folded():
    model = prune_(Block())
    model.bn1.train()
    report = []
    out = convert(model, measure=False, report=report)
    assert isinstance(out.bn1, nn.BatchNorm2d) and report[0].batchnorm == ""
    assert isinstance(out.bn2, nn.Identity)


def test_untraceable_model_keeps_its_batchnorms_and_says_why():
    class Branchy(Block):
        def forward(self, x):
            y = self.bn1(self.conv1(x))
            if y.sum() > 0:  # data-dependent control flow: torch.fx cannot trace this
                y = -y
            return y

    model = prune_(Branchy())
    report = []
    out = convert(model, measure=False, report=report)
    assert isinstance(out.bn1, nn.BatchNorm2d)
    assert "BatchNorm not folded: torch.fx cannot trace Branchy" in report[0].reason
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(out(x), model(x), rtol=1e-4, atol=1e-4)


def test_resnet18_folds_every_conv_batchnorm_pair():
    model = prune_(build_model("resnet18", num_classes=10, in_channels=3, image_size=32), 0.9)
    report = []
    out = convert(model, measure=False, report=report)
    folded = {r.name: r.batchnorm for r in report if r.batchnorm}
    assert len(folded) == 20  # 17 3x3 / 7x7 convs and 3 downsample convs, each with its BatchNorm
    assert folded["layer2.0.downsample.0"] == "layer2.0.downsample.1"
    assert not any(isinstance(m, nn.BatchNorm2d) for m in out.modules())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(out(x), model(x), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("fold", [True, False])
def test_scaling_factors_are_part_of_the_converted_weights(fold):
    # Before: convert packed the bare weight and silently dropped the factors.
    model = prune_(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(8 * 6 * 6, 10)))
    attach_scaling_factors(model, ["0", "1", "4"])
    with torch.no_grad():
        for name in ("0", "1", "4"):
            scale = model.get_submodule(name).scale
            scale.copy_(torch.rand(scale.shape) * 3)
        model[4].weight.mul_(torch.rand_like(model[4].weight) > 0.8)
    out = convert(model, measure=False, fold_batchnorm=fold)
    assert isinstance(out[0], SparseConv2d) and not hasattr(out[4], "scale")
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(out(x), model(x), rtol=1e-4, atol=1e-4)
