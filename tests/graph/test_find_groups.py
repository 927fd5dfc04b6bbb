"""Channel dependency groups from torch.fx (compressor/graph/)."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from torch import nn

from compressor.errors import CompressorError
from compressor.graph import ChannelGroup, GraphError, find_groups, group_param_slices, group_zero_masks
from compressor.models import build_model


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # the machine is shared; conftest restores the thread count


def mnist_net() -> nn.Module:
    return build_model("mnist_net", num_classes=10, in_channels=1, image_size=28)


def group_of(groups: list[ChannelGroup], module: str, role: str = "producer") -> ChannelGroup:
    """The group in which ``module`` has a member of ``role`` (the first one)."""
    return next(g for g in groups if module in g.modules(role))


def member(group: ChannelGroup, name: str, axis: int):
    return next(m for m in group.members if m.name == name and m.axis == axis)


@pytest.fixture(scope="module")
def mnist_groups() -> list[ChannelGroup]:
    return find_groups(mnist_net(), torch.randn(2, 1, 28, 28))


def test_mnist_net_groups(mnist_groups):
    conv1, conv2, fc1 = (group_of(mnist_groups, n) for n in ("conv1", "conv2", "fc1"))
    assert (conv1.channels, conv2.channels, fc1.channels) == (32, 64, 128)
    assert conv1.prunable and conv2.prunable and fc1.prunable
    assert conv1.modules("consumer") == ["conv2"]
    # flatten → Linear: each of conv2's channels owns a block of 12·12 features of fc1
    fc1_in = member(conv2, "fc1.weight", 1)
    assert (fc1_in.role, fc1_in.offset, fc1_in.block) == ("consumer", 0, 144)
    assert fc1.modules("consumer") == ["fc2"]
    # the input channel and the classifier outputs are never prunable
    inputs = next(g for g in mnist_groups if "conv1" in g.modules("consumer"))
    assert not inputs.prunable and "input" in inputs.reason
    out = group_of(mnist_groups, "fc2")
    assert not out.prunable and "output" in out.reason


def test_describe_and_to_dict(mnist_groups):
    conv2 = group_of(mnist_groups, "conv2")
    text = conv2.describe()
    assert "64 channels" in text and "prunable" in text and "conv2" in text and "fc1" in text
    data = json.loads(json.dumps([g.to_dict() for g in mnist_groups]))
    entry = data[conv2.id]
    assert entry["channels"] == 64 and entry["prunable"] and entry["modules"] == ["conv2", "fc1"]
    assert {"name": "fc1.weight", "module": "fc1", "role": "consumer", "axis": 1, "offset": 0,
            "block": 144} in entry["members"]


def test_resnet18_residual_group_shares_indices():
    model = torchvision.models.resnet18(weights=None)
    groups = find_groups(model, torch.randn(1, 3, 64, 64))
    layer1 = group_of(groups, "conv1")
    assert layer1.prunable and layer1.channels == 64
    assert set(layer1.modules("producer")) == {"conv1", "layer1.0.conv2", "layer1.1.conv2"}
    assert set(layer1.modules("batchnorm")) == {"bn1", "layer1.0.bn2", "layer1.1.bn2"}
    assert set(layer1.modules("consumer")) == {"layer1.0.conv1", "layer1.1.conv1",
                                               "layer2.0.conv1", "layer2.0.downsample.0"}
    # the downsample branch joins layer2's residual group
    layer2 = group_of(groups, "layer2.0.downsample.0")
    assert {"layer2.0.conv2", "layer2.1.conv2"} <= set(layer2.modules("producer"))
    assert "layer2.0.downsample.1" in layer2.modules("batchnorm")
    inner = group_of(groups, "layer1.0.conv1")
    assert inner.modules() == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2"]
    assert not group_of(groups, "fc").prunable


def test_mobilenet_v2_depthwise_joins_its_input_group():
    model = torchvision.models.mobilenet_v2(weights=None)
    groups = find_groups(model, torch.randn(1, 3, 64, 64))
    expand = group_of(groups, "features.2.conv.0.0")
    assert expand.prunable and expand.channels == 96
    assert expand.depthwise == ("features.2.conv.1.0",)
    assert "features.2.conv.1.0" in expand.modules("producer")
    assert {"features.2.conv.0.1", "features.2.conv.1.1"} <= set(expand.modules("batchnorm"))
    assert expand.modules("consumer") == ["features.2.conv.2"]
    # inverted residual: the projection of block 2 and block 3 are added
    residual = group_of(groups, "features.2.conv.2")
    assert "features.3.conv.2" in residual.modules("producer")


def test_densenet121_concat_offsets():
    model = torchvision.models.densenet121(weights=None)
    groups = find_groups(model, torch.randn(1, 3, 64, 64))
    assert sum(g.prunable for g in groups) == len(groups) - 2  # all but input and classifier
    block = "features.denseblock1"
    new = group_of(groups, f"{block}.denselayer1.conv2")  # 32 new channels after 64 stem ones
    assert new.channels == 32 and new.prunable
    bn = member(new, f"{block}.denselayer2.norm1.weight", 0)
    conv = member(new, f"{block}.denselayer2.conv1.weight", 1)
    assert (bn.offset, conv.offset) == (64, 64)
    later = member(new, f"{block}.denselayer6.conv1.weight", 1)
    assert later.offset == 64
    trans = member(new, "features.transition1.conv.weight", 1)
    assert trans.offset == 64
    stem = group_of(groups, "features.conv0")
    assert member(stem, "features.transition1.conv.weight", 1).offset == 0


class Gate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # data-dependent control flow: fx cannot trace this
            return x
        return -x


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.gate = Gate()
        self.head = nn.Conv2d(8, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gate(self.conv(x)))


def test_untraceable_model_raises_graph_error_naming_the_module():
    with pytest.raises(GraphError) as info:
        find_groups(Gated(), torch.randn(1, 3, 16, 16))
    message = str(info.value)
    assert "module 'gate' (Gate)" in message and "if x.sum() > 0:" in message
    assert "leaf_modules" in message  # the suggested fix
    assert isinstance(info.value, CompressorError)


def test_leaf_modules_fix_makes_the_op_opaque():
    groups = find_groups(Gated(), torch.randn(1, 3, 16, 16), leaf_modules=[Gate])
    conv = group_of(groups, "conv")
    assert not conv.prunable and "gate" in conv.reason


def test_bad_example_input_raises_graph_error_naming_the_op():
    with pytest.raises(GraphError, match=r"module 'conv1' \(Conv2d\)"):
        find_groups(mnist_net(), torch.randn(2, 3, 28, 28))


class Unusual(nn.Module):
    """Ops the analysis does not follow, next to ones it does."""

    def __init__(self) -> None:
        super().__init__()
        self.split = nn.Conv2d(3, 8, 3, padding=1)
        self.after_split = nn.Conv2d(4, 4, 1)
        self.squashed = nn.Conv2d(3, 8, 1)
        self.after_sigmoid = nn.Conv2d(8, 8, 1)
        self.fc1 = nn.Conv2d(8, 2, 1)
        self.fc2 = nn.Conv2d(2, 8, 1)
        self.head = nn.Conv2d(16, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = torch.chunk(self.split(x), 2, dim=1)
        y = self.after_sigmoid(torch.sigmoid(self.squashed(x)))
        # squeeze-and-excitation: the gate multiplies y, so pruned channels stay zero
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        y = y * gate
        return self.after_split(a + b), self.head(torch.cat([y, y], 1))


def test_unknown_ops_make_groups_unprunable_with_a_reason():
    groups = find_groups(Unusual(), torch.randn(1, 3, 8, 8))
    split = group_of(groups, "split")
    assert not split.prunable and "chunk" in split.reason
    squashed = group_of(groups, "squashed")
    assert not squashed.prunable and "after_sigmoid" in squashed.reason
    assert "sigmoid" in squashed.reason
    se = group_of(groups, "after_sigmoid")
    assert se.prunable, se.reason
    assert "fc2" in se.modules("producer")  # the gate's channels are the same channels
    assert [m.offset for m in se.members if m.name == "head.weight"] == [0, 8]


def test_find_groups_restores_modes_and_statistics():
    model = torchvision.models.resnet18(weights=None).train()
    model.layer1.eval()
    before = model.bn1.running_mean.clone()
    find_groups(model, torch.randn(2, 3, 32, 32))
    assert model.training and model.conv1.training and not model.layer1[0].bn1.training
    assert torch.equal(model.bn1.running_mean, before)


def test_group_param_slices_score_channels(mnist_groups):
    model = mnist_net()
    conv2 = group_of(mnist_groups, "conv2")
    slices = {s.name: s.values for s in group_param_slices(model, conv2)}
    assert set(slices) == {"conv2.weight", "conv2.bias"}
    assert slices["conv2.weight"].shape == (64, 32 * 9)
    torch.testing.assert_close(slices["conv2.weight"].abs().sum(1),
                               model.conv2.weight.detach().abs().sum((1, 2, 3)))
    consumers = group_param_slices(model, conv2, roles=["consumer"])
    assert [s.name for s in consumers] == ["fc1.weight"]
    fc1 = model.fc1.weight.detach().reshape(128, 64, 144)
    torch.testing.assert_close(consumers[0].values[5], fc1[:, 5].t().reshape(-1))
    with pytest.raises(ValueError, match="unknown roles"):
        group_param_slices(model, conv2, roles=["filters"])


def test_group_zero_masks(mnist_groups):
    model = mnist_net()
    conv2 = group_of(mnist_groups, "conv2")
    masks = group_zero_masks(model, conv2, [3, 10])
    assert set(masks) == {"conv2.weight", "conv2.bias"}
    assert not masks["conv2.weight"][[3, 10]].any() and masks["conv2.weight"].sum() == 62 * 288
    assert masks["conv2.bias"].tolist() == [i not in (3, 10) for i in range(64)]
    with_consumers = group_zero_masks(model, conv2, torch.tensor([3]), consumers=True)
    fc1 = with_consumers["fc1.weight"]
    assert not fc1[:, 3 * 144:4 * 144].any() and fc1.sum() == 128 * (9216 - 144)
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        group_zero_masks(model, conv2, [64])


def test_group_zero_masks_batchnorm():
    model = torchvision.models.resnet18(weights=None)
    groups = find_groups(model, torch.randn(1, 3, 32, 32))
    masks = group_zero_masks(model, group_of(groups, "conv1"), [0, 7])
    assert {"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.bn2.weight",
            "layer1.1.conv2.weight"} <= set(masks)
    assert "layer1.0.conv1.weight" not in masks  # consumers only on request
    assert masks["layer1.1.bn2.bias"].tolist() == [i not in (0, 7) for i in range(64)]


class Shared(nn.Module):
    """A conv called twice, a weight tied to it, a parameter read directly."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 1)
        self.b = nn.Conv2d(8, 8, 1)
        self.c = nn.Conv2d(8, 8, 1)
        self.c.weight = self.b.weight
        self.d = nn.Conv2d(8, 4, 1)
        self.e = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.b(self.a(x))
        return self.e(self.d(self.c(y) + self.b(y))), self.a.weight.sum()


def test_shared_and_tied_weights_are_not_prunable():
    groups = find_groups(Shared(), torch.randn(1, 3, 4, 4))
    a = group_of(groups, "a")
    assert not a.prunable and "called 2 times" in a.reason and "a.weight is also used" in a.reason
    c = group_of(groups, "c")
    assert not c.prunable and "c.weight is shared with b.weight" in c.reason
    assert group_of(groups, "d").prunable
