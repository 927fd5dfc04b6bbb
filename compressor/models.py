"""Model architectures: built-in names, and the user's own (``"module:callable"``).

``build_model(arch, num_classes=..., in_channels=..., image_size=..., options=...)`` returns a
freshly initialized ``nn.Module`` (never pretrained weights, nothing is downloaded);
``image_size`` is an int (square images) or ``(height, width)``. Built-in names:

* ``mnist_net``: the classic PyTorch MNIST example network (``MnistNet``).
* the ResNet family (``resnet18``, ``resnet34``, ``resnet50``, ..., ``resnext*``,
  ``wide_resnet*``): torchvision's ResNet; for images of at most 64 pixels (or option
  ``small_stem: true``) the stem is a 3x3 stride-1 conv without max-pool. Parameter names
  stay torchvision's.
* any other of ``torchvision.models.list_models(module=torchvision.models)``, its first
  ``nn.Conv2d`` replaced when ``in_channels`` is not 3.

A user architecture is ``"package.module:callable"`` (imported; the current directory is
searched too, as ``python -m`` does) or ``"path/to/file.py:callable"`` (loaded from that
file, a relative path taken from the current directory): ``callable(**options)`` must
return an ``nn.Module``; ``num_classes``, ``in_channels`` and ``image_size`` are not passed
to it (the run checks the number of outputs against the data set's classes instead).
:func:`resolve_arch` gives the form that rebuilds it from anywhere (the file's absolute
path), which checkpoints record. Every failure (file missing, import error, no such
attribute, not callable, not returning a module) is a ``ModelError`` naming the arch.

Every model is checked against an ``in_channels x height x width`` input (on the meta
device, so it costs no computation): a model that cannot take that input size raises
``ModelError`` at build time rather than failing inside training.

Size: about 440 lines; the built-in builders and the user-architecture loader share the
option checks, the meta-device input check and the classifier helpers, and are read
together when a model does not build.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet

from .errors import ModelError

__all__ = ["MODELS", "MnistNet", "available_models", "build_model", "image_hw", "is_user_arch",
           "last_linear", "output_count", "replace_classifier", "resolve_arch"]

_NONE = type(None)
ImageSize = int | tuple[int, int] | list[int]


def image_hw(image_size: ImageSize) -> tuple[int, int]:
    """``(height, width)`` of an image size given as an int (square) or a pair."""
    if isinstance(image_size, (tuple, list)):
        return int(image_size[0]), int(image_size[1])
    return int(image_size), int(image_size)


class MnistNet(nn.Module):
    """conv 3x3 (32) - ReLU - conv 3x3 (64) - ReLU - max-pool 2 - dropout - fc (128) - ReLU
    - dropout - fc, as in PyTorch's MNIST example; returns logits.

    Every layer is a module attribute, in forward order, so ``torch.fx`` sees them all.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: ImageSize = 28,
        hidden: int = 128,
        dropout1: float = 0.25,
        dropout2: float = 0.5,
    ) -> None:
        super().__init__()
        height, width = image_hw(image_size)
        pooled = ((height - 4) // 2) * ((width - 4) // 2)  # two 3x3 convs without padding, pool 2
        self.conv1 = nn.Conv2d(in_channels, 32, 3, 1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.dropout1 = nn.Dropout(dropout1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64 * pooled, hidden)
        self.relu3 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout2)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x)))))
        x = self.flatten(self.dropout1(x))
        x = self.dropout2(self.relu3(self.fc1(x)))
        return self.fc2(x)


# ----------------------------------------------------------------------------- options

# option name -> accepted types; an int is accepted where a float is
_OptionTypes = dict[str, tuple[type, ...]]


def _check_options(arch: str, options: dict[str, object], valid: _OptionTypes) -> None:
    for key, value in options.items():
        if key not in valid:
            names = ", ".join(sorted(valid)) if valid else "none"
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ModelError(
                f"unknown option {key!r} for model {arch}; {hint}valid options: {names}"
            )
        types = valid[key]
        if float in types:
            types = (*types, int)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            wanted = " or ".join("null" if t is _NONE else t.__name__ for t in valid[key])
            raise ModelError(
                f"option {key!r} of model {arch} must be {wanted}, got {value!r}"
            )


def _check_fraction(arch: str, options: dict[str, object], *keys: str) -> None:
    for key in keys:
        if key in options and not 0.0 <= options[key] < 1.0:  # type: ignore[operator]
            raise ModelError(
                f"option {key!r} of model {arch} must be in [0, 1), got {options[key]!r}"
            )


# ----------------------------------------------------------------------------- builders

_MNIST_NET_OPTIONS: _OptionTypes = {"hidden": (int,), "dropout1": (float,), "dropout2": (float,)}


def _build_mnist_net(
    arch: str, *, num_classes: int, in_channels: int, image_size: ImageSize, **options: object
) -> nn.Module:
    _check_options(arch, options, _MNIST_NET_OPTIONS)
    _check_fraction(arch, options, "dropout1", "dropout2")
    if options.get("hidden", 1) < 1:  # type: ignore[operator]
        raise ModelError(f"option 'hidden' of model {arch} must be >= 1, got {options['hidden']!r}")
    if min(image_hw(image_size)) < 6:
        raise ModelError(
            f"{arch} needs images of at least 6x6 pixels (two 3x3 convs and a 2x2 pool), "
            f"got image_size {image_size}"
        )
    return MnistNet(num_classes, in_channels, image_size, **options)  # type: ignore[arg-type]


def _model_class(arch: str) -> type | None:
    annotation = inspect.signature(torchvision.models.get_model_builder(arch)).return_annotation
    return annotation if isinstance(annotation, type) else None


# Set for every build: no auxiliary heads (the models return plain logits) and an explicit
# init (torchvision warns about the default otherwise). Not user options.
_FIXED_KWARGS: dict[str, dict[str, object]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}
_SET_BY_US = {"num_classes", "image_size", "input_size"}


@functools.cache
def _torchvision_options(arch: str) -> _OptionTypes:
    """The model class's scalar constructor arguments (those with a bool/int/float/str default)."""
    cls = _model_class(arch)
    if cls is None:
        return {}
    options: _OptionTypes = {}
    for param in inspect.signature(cls.__init__).parameters.values():
        if param.name in _SET_BY_US or param.name in _FIXED_KWARGS.get(arch, {}):
            continue
        for kind in (bool, int, float, str):  # bool first: it is an int
            if isinstance(param.default, kind):
                options[param.name] = (kind,)
                break
    if issubclass(cls, ResNet):
        options["small_stem"] = (bool, _NONE)
    return options


def _kaiming_conv(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")  # as torchvision
    return conv


def _resnet_stem(model: ResNet, in_channels: int, small: bool) -> None:
    width = model.conv1.out_channels
    if small:
        model.conv1 = _kaiming_conv(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False))
        model.maxpool = nn.Identity()
    elif in_channels != model.conv1.in_channels:
        model.conv1 = _kaiming_conv(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False))


def _adapt_first_conv(model: nn.Module, arch: str, in_channels: int) -> None:
    """Replace the first ``nn.Conv2d`` by one taking ``in_channels`` (default init)."""
    found = next(
        ((name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)), None
    )
    if found is None:
        raise ModelError(
            f"cannot give {arch} {in_channels} input channels: it has no nn.Conv2d layer to "
            "adapt; use 3-channel data or another model"
        )
    name, conv = found
    if conv.in_channels == in_channels:
        return
    if conv.groups != 1:
        raise ModelError(
            f"cannot give {arch} {in_channels} input channels: its first conv ({name}) is grouped "
            f"({conv.groups} groups); use 3-channel data or another model"
        )
    replacement = nn.Conv2d(
        in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode,
    )
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, replacement)


def _build_torchvision(
    arch: str, *, num_classes: int, in_channels: int, image_size: ImageSize, **options: object
) -> nn.Module:
    _check_options(arch, options, _torchvision_options(arch))
    small_stem = options.pop("small_stem", None)
    kwargs = {**_FIXED_KWARGS.get(arch, {}), **options}
    init_params = inspect.signature(_model_class(arch) or (lambda: None)).parameters
    height, width = image_hw(image_size)
    if "image_size" in init_params:  # vision transformers (square images)
        kwargs["image_size"] = height
    if "input_size" in init_params:  # maxvit
        kwargs["input_size"] = (height, width)
    try:
        model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)
    except (TypeError, ValueError, AssertionError, RuntimeError) as exc:
        settings = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise ModelError(
            f"torchvision cannot build {arch} for {num_classes} classes"
            f"{' with ' + settings if settings else ''}: {exc}"
        ) from None
    if isinstance(model, ResNet):
        _resnet_stem(model, in_channels, max(height, width) <= 64 if small_stem is None else small_stem)
    else:
        _adapt_first_conv(model, arch, in_channels)
    return model


MODELS: dict[str, Callable[..., nn.Module]] = {
    "mnist_net": _build_mnist_net,
    **{
        name: _build_torchvision
        for name in torchvision.models.list_models(module=torchvision.models)
    },
}


def available_models() -> list[str]:
    """Every name ``build_model`` accepts, sorted."""
    return sorted(MODELS)


def output_count(model: nn.Module, arch: str, in_channels: int, image_size: ImageSize) -> int:
    """Run the model on a meta-device input (shapes only, no computation); the number of
    outputs per sample (its classes). ``ModelError`` when it cannot take that input."""
    tensors = {
        name: torch.empty_like(tensor, device="meta")
        for name, tensor in itertools.chain(model.named_parameters(), model.named_buffers())
    }
    height, width = image_hw(image_size)
    sample = torch.empty(2, in_channels, height, width, device="meta")
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = torch.func.functional_call(model, tensors, (sample,))
    except (RuntimeError, ValueError, AssertionError, IndexError, TypeError) as exc:
        hint = ("Use a data set with larger images or a model made for small ones (mnist_net, "
                "resnet18, mobilenet_v2, ...)" if not is_user_arch(arch) else
                "Check the data set's channels and image_size against the model")
        raise ModelError(
            f"{arch} cannot take {in_channels}x{height}x{width} images: {exc}. {hint}"
        ) from None
    finally:
        model.train(training)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != 2:
        got = (f"a tensor of shape {list(out.shape)} for a batch of 2" if isinstance(out, torch.Tensor)
               else f"a {type(out).__name__}")
        raise ModelError(f"{arch} returns {got}; a classifier must return logits of shape "
                         "[batch, classes]")
    return int(out.shape[1])


# ----------------------------------------------------------------------------- user models

def is_user_arch(arch: str) -> bool:
    """Whether ``arch`` names the user's own callable (``"module:callable"``)."""
    return ":" in str(arch)


def _split_user_arch(arch: str) -> tuple[str, str]:
    where, _, name = str(arch).rpartition(":")
    if not where or not name or not name.replace(".", "").replace("_", "a").isalnum():
        raise ModelError(f"model arch {arch!r}: write it as 'package.module:callable' or "
                         "'path/to/file.py:callable'")
    return where, name


def _is_file_form(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def resolve_arch(arch: str) -> str:
    """``arch`` in the form that rebuilds the model from any directory: a user file's path
    made absolute; every other name unchanged."""
    if not is_user_arch(arch):
        return arch
    where, name = _split_user_arch(arch)
    if _is_file_form(where):
        return f"{Path(where).expanduser().resolve()}:{name}"
    return arch


def _import_module(arch: str, where: str):
    if _is_file_form(where):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise ModelError(f"model arch {arch!r}: file {path} not found")
        # One module per file, named after its path, so two files may share a name.
        module_name = f"compressor_user_model_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
        if module_name in sys.modules:
            return sys.modules[module_name]
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ModelError(f"model arch {arch!r}: {path} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise ModelError(f"model arch {arch!r}: importing {path} failed: "
                             f"{type(exc).__name__}: {exc}") from None
        return module
    cwd = str(Path.cwd())
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        return importlib.import_module(where)
    except Exception as exc:
        raise ModelError(f"model arch {arch!r}: importing module {where!r} failed: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        if added:
            sys.path.remove(cwd)


def _build_user_model(arch: str, options: dict[str, object]) -> nn.Module:
    where, name = _split_user_arch(arch)
    module = _import_module(arch, where)
    target: object = module
    for part in name.split("."):
        if not hasattr(target, part):
            public = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
            close = difflib.get_close_matches(name, public, n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise ModelError(f"model arch {arch!r}: {module.__name__ if not _is_file_form(where) else where} "
                             f"has no attribute {name!r}{hint}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelError(f"model arch {arch!r}: {name} is a {type(target).__name__}, not callable "
                         "(a class or function returning an nn.Module)")
    try:
        model = target(**options)
    except TypeError as exc:
        raise ModelError(f"model arch {arch!r}: calling {name} with model.options "
                         f"{dict(options)!r} failed: {exc}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"model arch {arch!r}: {name}(...) returned a {type(model).__name__}, "
                         "not a torch.nn.Module")
    return model


def last_linear(model: nn.Module) -> str | None:
    """The name of the model's last ``nn.Linear`` (its classifier), in module order."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return names[-1] if names else None


def replace_classifier(model: nn.Module, name: str, num_classes: int) -> nn.Module:
    """Put a freshly initialised ``nn.Linear(in_features, num_classes)`` in place of the
    ``nn.Linear`` called ``name``; returns the new layer."""
    old = model.get_submodule(name)
    if not isinstance(old, nn.Linear):
        raise ModelError(f"cannot replace the classifier {name!r}: it is a {type(old).__name__}, "
                         "not an nn.Linear")
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None,
                    device=old.weight.device, dtype=old.weight.dtype)
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, new)
    return new


def build_model(
    arch: str, *, num_classes: int, in_channels: int, image_size: ImageSize,
    options: dict[str, object] | None = None, **more_options: object
) -> nn.Module:
    """A freshly initialized model ``arch`` for ``in_channels x height x width`` images
    and ``num_classes`` classes; ``options`` (a schedule's ``model.options``) and
    ``more_options`` are the architecture's own settings (a user architecture gets only
    these, so its options may include its own ``num_classes``; see the module docstring)."""
    options = {**(options or {}), **more_options}
    for key, value in (("num_classes", num_classes), ("in_channels", in_channels),
                       *(("image_size", v) for v in image_hw(image_size))):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ModelError(f"{key} of model {arch} must be a positive integer, got {value!r}")
    if is_user_arch(arch):
        model = _build_user_model(str(arch), options)
        output_count(model, str(arch), in_channels, image_size)
        return model
    name = str(arch).strip().lower().replace("-", "_")
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ModelError(
            f"unknown model {arch!r}; {hint}there are {len(MODELS)} models: mnist_net and "
            "torchvision's classification models (compressor.models.available_models() "
            "lists them all)"
        )
    model = MODELS[name](name, num_classes=num_classes, in_channels=in_channels,
                         image_size=image_size, **options)
    output_count(model, name, in_channels, image_size)
    return model
