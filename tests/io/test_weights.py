"""``model.weights``: a plain state_dict as torchvision ships it, weights-only; the classifier
replaced for another class count; every mismatch an error naming the keys."""

from __future__ import annotations

import collections

import pytest
import torch
import torchvision

from compressor.errors import CheckpointError
from compressor.io.checkpoint import save_checkpoint
from compressor.io.weights import load_pretrained, read_state_dict
from compressor.models import build_model


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A real torchvision ResNet-18 state_dict (random init, 1000 classes), saved as
    torchvision's weight files are: torch.save(model.state_dict(), path)."""
    torch.manual_seed(1)
    model = torchvision.models.resnet18()
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(model.state_dict(), path)
    return path, model.state_dict()


class _Pickled:
    """A class a weights-only load refuses to build."""


def _equal_except(model, state, skip=()):
    mine = model.state_dict()
    return all(torch.equal(mine[k], v) for k, v in state.items() if not k.startswith(skip))


def test_torchvision_state_dict_into_the_user_arch_with_the_classifier_replaced(resnet18_file):
    path, state = resnet18_file
    model = build_model("torchvision.models:resnet18", num_classes=10, in_channels=3, image_size=32)
    assert model.fc.out_features == 1000  # what the callable builds
    loaded = load_pretrained(model, path, num_classes=10)
    assert (loaded.classifier, loaded.classes_in_file, loaded.classes_now) == ("fc", 1000, 10)
    assert loaded.tensors == len(state) - 2
    assert model.fc.out_features == 10 and model.fc.in_features == 512
    assert _equal_except(model, state, skip=("fc.",))
    assert "classifier fc replaced: 1000 classes in the file, 10 in the data set" in loaded.describe()


def test_same_class_count_loads_everything(resnet18_file):
    path, state = resnet18_file
    model = build_model("torchvision.models:resnet18", num_classes=1000, in_channels=3, image_size=32)
    loaded = load_pretrained(model, path, num_classes=1000)
    assert loaded.classifier is None and loaded.tensors == len(state)
    assert _equal_except(model, state)


def test_builtin_resnet18_small_stem_does_not_fit(resnet18_file):
    path, _ = resnet18_file
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=32)  # 3x3 stem
    with pytest.raises(CheckpointError, match=r"tensors of another shape: conv1.weight \[64, 3, 7, 7\] in "
                                              r"the file, \[64, 3, 3, 3\] in the model"):
        load_pretrained(model, path, num_classes=10)
    model = build_model("resnet18", num_classes=10, in_channels=3, image_size=32, small_stem=False)
    assert load_pretrained(model, path, num_classes=10).classifier == "fc"


def test_missing_and_unexpected_keys_are_named(resnet18_file, tmp_path):
    path, state = resnet18_file
    broken = collections.OrderedDict(state)
    del broken["layer1.0.bn1.running_mean"]
    broken["extra.weight"] = torch.zeros(3)
    torch.save(broken, tmp_path / "broken.pth")
    model = build_model("torchvision.models:resnet18", num_classes=1000, in_channels=3, image_size=32)
    with pytest.raises(CheckpointError) as info:
        load_pretrained(model, tmp_path / "broken.pth", num_classes=1000)
    message = str(info.value)
    assert "missing keys (the model has them, the file does not): layer1.0.bn1.running_mean" in message
    assert "unexpected keys (in the file, not in the model): extra.weight" in message


def test_wrappers_only_when_unambiguous(resnet18_file, tmp_path):
    _, state = resnet18_file
    small = {k: v for k, v in state.items() if k.startswith("fc.")}
    torch.save({"state_dict": small, "epoch": 3, "arch": "resnet18"}, tmp_path / "a.pth")
    assert read_state_dict(tmp_path / "a.pth").keys() == small.keys()
    torch.save({"model": small}, tmp_path / "b.pth")
    assert read_state_dict(tmp_path / "b.pth").keys() == small.keys()
    torch.save({"model": small, "state_dict": small}, tmp_path / "c.pth")
    with pytest.raises(CheckpointError, match="several sets of tensors"):
        read_state_dict(tmp_path / "c.pth")
    torch.save({"model": small, "ema": small}, tmp_path / "d.pth")
    with pytest.raises(CheckpointError, match="several sets of tensors"):
        read_state_dict(tmp_path / "d.pth")
    torch.save([1, 2], tmp_path / "e.pth")
    with pytest.raises(CheckpointError, match="holds a list, not a state_dict"):
        read_state_dict(tmp_path / "e.pth")


def test_refuses_pickled_code_checkpoints_and_missing_files(tmp_path):
    torch.save({"w": torch.zeros(1), "obj": _Pickled()}, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="weights-only load refuses"):
        read_state_dict(tmp_path / "pickled.pth")
    save_checkpoint(tmp_path / "ckpt.pt", {"model": {"w": torch.zeros(1)}})
    with pytest.raises(CheckpointError, match="is a compressor checkpoint; give it as model.checkpoint"):
        read_state_dict(tmp_path / "ckpt.pt")
    with pytest.raises(CheckpointError, match="not found"):
        read_state_dict(tmp_path / "nope.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(CheckpointError, match="not a torch.save file"):
        read_state_dict(tmp_path / "text.pth")
