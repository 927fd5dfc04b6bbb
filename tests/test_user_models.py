"""User architectures: ``"package.module:callable"`` and ``"path/file.py:callable"``, built
with ``model.options``; every way they can fail is a ModelError naming the arch."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from torch import nn

from compressor.errors import ModelError
from compressor.models import build_model, last_linear, replace_classifier, resolve_arch

NET = """\
import torch
from torch import nn


class TinyResidual(nn.Module):
    def __init__(self, width: int = 8, classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.body = nn.Conv2d(width, width, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = x + torch.relu(self.body(x))
        return self.head(self.pool(x).flatten(1))


def make(**options):
    return TinyResidual(**options)


NOT_CALLABLE = 3


def returns_tensor():
    return torch.zeros(1)
"""


def build(arch: str, **options):
    return build_model(arch, num_classes=10, in_channels=3, image_size=16, **options)


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "nets" / "tiny.py"
    path.parent.mkdir()
    path.write_text(NET)
    return path


def test_file_form_builds_with_options(net_file):
    model = build(f"{net_file}:TinyResidual", width=4, classes=7)
    assert isinstance(model, nn.Module) and model.body.out_channels == 4
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 7)
    assert build(f"{net_file}:make").head.out_features == 10


def test_relative_file_is_resolved_from_the_current_directory(net_file, monkeypatch):
    monkeypatch.chdir(net_file.parent.parent)
    arch = "nets/tiny.py:make"
    assert resolve_arch(arch) == f"{net_file}:make"
    assert build(arch).stem.in_channels == 3
    assert resolve_arch("resnet18") == "resnet18"


def test_module_form_from_sys_path_and_current_directory(net_file, monkeypatch):
    monkeypatch.chdir(net_file.parent)
    monkeypatch.delitem(sys.modules, "tiny", raising=False)
    assert build("tiny:make", width=2).body.in_channels == 2
    assert str(net_file.parent) not in sys.path  # the directory was searched, not added for good
    model = build_model("torchvision.models:resnet18", num_classes=10, in_channels=3, image_size=16,
                        options={"num_classes": 10})
    assert model.fc.out_features == 10


@pytest.mark.parametrize(("arch_tail", "fragment"), [
    ("missing.py:make", "not found"),
    ("tiny.py:nothing", "has no attribute 'nothing'"),
    ("tiny.py:mak", "did you mean 'make'"),
    ("tiny.py:NOT_CALLABLE", "NOT_CALLABLE is a int, not callable"),
    ("tiny.py:returns_tensor", "returned a Tensor, not a torch.nn.Module"),
])
def test_file_form_errors_name_the_arch(net_file, arch_tail, fragment):
    arch = f"{net_file.parent}/{arch_tail}"
    with pytest.raises(ModelError) as info:
        build(arch)
    assert repr(arch) in str(info.value) and fragment in str(info.value)


def test_import_errors_carry_their_message(tmp_path, monkeypatch):
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n")
    with pytest.raises(ModelError, match=r"importing .*broken.py failed: ModuleNotFoundError: No module "
                                         r"named 'not_a_module_anywhere'"):
        build(f"{broken}:make")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"'no_such_pkg.models:make': importing module 'no_such_pkg.models' "
                                         r"failed: ModuleNotFoundError"):
        build("no_such_pkg.models:make")
    with pytest.raises(ModelError, match=r"write it as 'package.module:callable'"):
        build(":make")


def test_bad_options_and_bad_input_shape(net_file):
    with pytest.raises(ModelError, match=r"calling make with model.options \{'depth': 3\} failed"):
        build(f"{net_file}:make", depth=3)
    with pytest.raises(ModelError, match=r"cannot take 1x16x16 images"):
        build_model(f"{net_file}:make", num_classes=10, in_channels=1, image_size=16)


def test_classifier_helpers(net_file):
    model = build(f"{net_file}:make")
    assert last_linear(model) == "head"
    new = replace_classifier(model, "head", 3)
    assert model.head is new and new.out_features == 3 and new.in_features == 8
    with pytest.raises(ModelError, match="not an nn.Linear"):
        replace_classifier(model, "stem", 3)


def test_two_files_with_one_name_stay_apart(tmp_path):
    for name, width in (("a", 3), ("b", 5)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "net.py").write_text(textwrap.dedent(NET).replace("width: int = 8",
                                                                           f"width: int = {width}"))
    assert build(f"{tmp_path}/a/net.py:make").body.out_channels == 3
    assert build(f"{tmp_path}/b/net.py:make").body.out_channels == 5
