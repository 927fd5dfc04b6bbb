"""compressor.models: building mnist_net, ResNets and other torchvision models by name."""

from __future__ import annotations

import pytest
import torch
import torch.fx
import torchvision
from torch import nn

from compressor.errors import CompressorError, ModelError
from compressor.models import MODELS, MnistNet, available_models, build_model


def build(arch: str, *, in_channels: int = 1, image_size: int = 28, num_classes: int = 10, **options):
    return build_model(arch, num_classes=num_classes, in_channels=in_channels,
                       image_size=image_size, **options)


def logits(model: nn.Module, in_channels: int, image_size: int, batch: int = 2) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(torch.randn(batch, in_channels, image_size, image_size))


def test_mnist_net_is_the_pytorch_example_network():
    model = build("mnist_net")
    assert isinstance(model, MnistNet) and model.training
    assert [name for name, _ in model.named_parameters()] == [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
    ]
    layers = [(name, type(m).__name__) for name, m in model.named_children()]
    assert [kind for _, kind in layers] == [
        "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Dropout", "Flatten",
        "Linear", "ReLU", "Dropout", "Linear",
    ]
    assert (model.conv1.in_channels, model.conv1.out_channels, model.conv1.kernel_size) == (1, 32, (3, 3))
    assert model.conv1.stride == (1, 1) and model.conv1.padding == (0, 0)
    assert (model.conv2.in_channels, model.conv2.out_channels) == (32, 64)
    assert model.pool.kernel_size == 2 and model.dropout1.p == 0.25 and model.dropout2.p == 0.5
    assert (model.fc1.in_features, model.fc1.out_features) == (9216, 128)
    assert (model.fc2.in_features, model.fc2.out_features) == (128, 10)
    assert logits(model, 1, 28).shape == (2, 10)


def test_mnist_net_follows_input_shape_and_options():
    model = build("mnist_net", in_channels=3, image_size=32, num_classes=5, hidden=64, dropout2=0.1)
    assert model.conv1.in_channels == 3 and model.fc1.in_features == 64 * 14 * 14
    assert model.fc1.out_features == 64 and model.dropout2.p == 0.1
    assert logits(model, 3, 32).shape == (2, 5)


@pytest.mark.parametrize("arch", ["mnist_net", "resnet18"])
def test_fx_symbolic_trace(arch):
    model = build(arch).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))
    called = {node.target for node in traced.graph.nodes if node.op == "call_module"}
    assert {"conv1", "fc"} <= called or {"conv1", "fc1", "fc2"} <= called


@pytest.mark.parametrize(("in_channels", "image_size"), [(1, 28), (3, 28), (1, 32), (3, 32), (1, 224), (3,
                                                                                                        224)])
def test_resnet18_shapes_and_stem(in_channels, image_size):
    model = build("resnet18", in_channels=in_channels, image_size=image_size)
    assert logits(model, in_channels, image_size, batch=1 if image_size > 64 else 2).shape[-1] == 10
    conv1 = model.conv1
    assert conv1.in_channels == in_channels and conv1.out_channels == 64 and conv1.bias is None
    if image_size <= 64:
        assert (conv1.kernel_size, conv1.stride, conv1.padding) == ((3, 3), (1, 1), (1, 1))
        assert isinstance(model.maxpool, nn.Identity)
    else:
        assert (conv1.kernel_size, conv1.stride, conv1.padding) == ((7, 7), (2, 2), (3, 3))
        assert isinstance(model.maxpool, nn.MaxPool2d)
    assert model.fc.out_features == 10


def test_resnet_parameter_names_stay_torchvision_s():
    ours = build("resnet18", image_size=32)
    reference = torchvision.models.resnet18(weights=None, num_classes=10)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    assert "layer1.0.conv1.weight" in ours.state_dict() and "fc.weight" in ours.state_dict()


@pytest.mark.parametrize("arch", ["resnet34", "resnet50"])
def test_other_resnets_follow_the_same_rule(arch):
    model = build(arch, in_channels=3, image_size=32, num_classes=7)
    assert model.conv1.kernel_size == (3, 3) and isinstance(model.maxpool, nn.Identity)
    assert model.fc.out_features == 7


def test_resnet_small_stem_option():
    big = build("resnet18", in_channels=3, image_size=32, small_stem=False)
    assert big.conv1.kernel_size == (7, 7) and isinstance(big.maxpool, nn.MaxPool2d)
    small = build("resnet18", in_channels=1, image_size=128, small_stem=True)
    assert small.conv1.kernel_size == (3, 3) and isinstance(small.maxpool, nn.Identity)
    with pytest.raises(ModelError, match="option 'small_stem' of model resnet18 must be bool or null"):
        build("resnet18", small_stem="yes")


def test_torchvision_model_by_name_with_one_channel():
    model = build("mobilenet_v2", in_channels=1, image_size=28, width_mult=0.5)
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1 and model.features[0][0] is first
    assert logits(model, 1, 28).shape == (2, 10)
    three = build("mobilenet_v2", in_channels=3, image_size=32, num_classes=4)
    assert logits(three, 3, 32).shape == (2, 4)


def test_vision_transformer_gets_the_image_size():
    model = build("vit_b_32", in_channels=1, image_size=64)
    assert model.image_size == 64 and model.conv_proj.in_channels == 1
    with pytest.raises(ModelError, match="vit_b_32.*image_size=60"):
        build("vit_b_32", image_size=60)


def test_build_keeps_training_mode_and_is_seeded():
    torch.manual_seed(0)
    a = build("resnet18", image_size=32)
    torch.manual_seed(0)
    b = build("resnet18", image_size=32)
    assert a.training and all(m.training for m in a.modules())
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_available_models():
    names = available_models()
    assert names == sorted(names) == sorted(MODELS)
    assert {"mnist_net", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "vgg11"} <= set(names)
    assert len(names) == 1 + len(torchvision.models.list_models(module=torchvision.models))


def test_unknown_model_suggests_close_names():
    with pytest.raises(ModelError,
                       match="unknown model 'resnet19'; did you mean 'resnet18'.*available_models"):
        build("resnet19")
    with pytest.raises(CompressorError, match="unknown model 'lenet'"):
        build("lenet")
    assert isinstance(build("MNIST-Net"), MnistNet)


def test_options_are_validated():
    with pytest.raises(ModelError, match="unknown option 'hiden' for model mnist_net; did you mean "
                                         "'hidden'.*dropout1, dropout2, hidden"):
        build("mnist_net", hiden=64)
    with pytest.raises(ModelError, match="option 'hidden' of model mnist_net must be int, got 1.5"):
        build("mnist_net", hidden=1.5)
    with pytest.raises(ModelError, match="option 'dropout1' of model mnist_net must be in"):
        build("mnist_net", dropout1=1.0)
    with pytest.raises(ModelError, match="unknown option 'weights' for model mobilenet_v2.*width_mult"):
        build("mobilenet_v2", weights="IMAGENET1K_V1")
    with pytest.raises(ModelError, match="resnext50_32x4d.*groups"):
        build("resnext50_32x4d", image_size=32, groups=4)
    with pytest.raises(ModelError, match="num_classes of model mnist_net must be a positive integer"):
        build("mnist_net", num_classes=0)


def test_inputs_too_small_for_the_model():
    with pytest.raises(ModelError, match="mnist_net needs images of at least 6x6"):
        build("mnist_net", image_size=5)
    with pytest.raises(ModelError, match="alexnet cannot take 1x28x28 images.*mnist_net, resnet18"):
        build("alexnet")


def test_googlenet_returns_plain_logits_in_training():
    model = build("googlenet", in_channels=1, image_size=32)
    out = model(torch.randn(2, 1, 32, 32))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 10)
