"""Dependency groups from a torch.fx trace: :func:`find_groups`.

The model is traced with ``torch.fx`` and run once on the example input under
``ShapeProp`` (eval mode, no grad; every module's train/eval flag is restored), so
every node has a shape; then :mod:`.analysis` walks the graph and finds the groups.
A model fx cannot trace, or one that fails on the example input, raises a
``GraphError`` naming the module or op and the user's source line.
"""

from __future__ import annotations

import contextlib
import io
import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from ..nn.scaling import is_scaled
from .analysis import channel_groups
from .errors import GraphError
from .groups import ChannelGroup
from .op_tables import describe_node

__all__ = ["find_groups"]


class _Tracer(torch.fx.Tracer):
    """Records which module was being traced when tracing failed."""

    def __init__(self, leaf_modules: tuple[type, ...]) -> None:
        super().__init__()
        self.leaf_types = leaf_modules
        self.stack: list[str] = []
        self.failed_in: list[str] | None = None

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (isinstance(m, self.leaf_types) or is_scaled(m)
                or super().is_leaf_module(m, module_qualified_name))

    def call_module(self, m: nn.Module, forward: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        self.stack.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = list(self.stack)
            raise
        finally:
            self.stack.pop()


_TORCH_DIR = os.path.dirname(torch.__file__)


def _user_frame(exc: BaseException) -> str:
    """``file:line: code`` of the innermost frame outside torch, or ""."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_TORCH_DIR) and f.filename != __file__]
    if not frames:
        return ""
    f = frames[-1]
    return f"{f.filename}:{f.lineno}: `{(f.line or '').strip()}`"


def _trace(model: nn.Module, leaf_modules: tuple[type, ...]) -> torch.fx.GraphModule:
    tracer = _Tracer(leaf_modules)
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # fx raises many types; each becomes one user-facing error
        path = tracer.failed_in[-1] if tracer.failed_in else ""
        where = (f"module '{path}' ({type(model.get_submodule(path)).__name__})" if path
                 else f"the forward of {type(model).__name__}")
        frame = _user_frame(exc)
        raise GraphError(
            f"torch.fx cannot trace {type(model).__name__}: it failed in {where}"
            f"{' at ' + frame if frame else ''}: {type(exc).__name__}: {exc}. Channel groups "
            "need a symbolically traceable forward: remove Python control flow that depends "
            "on tensor values from that module, or pass its class in "
            "find_groups(..., leaf_modules=[...]) so it is treated as one opaque op (its "
            "channels are then not prunable)"
        ) from exc
    return torch.fx.GraphModule(tracer.root, graph, type(model).__name__)


class _ShapeProp(ShapeProp):
    failed: torch.fx.Node | None = None

    def run_node(self, n: torch.fx.Node) -> Any:
        try:
            return super().run_node(n)
        except Exception:
            self.failed = self.failed or n
            raise


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _propagate(gm: torch.fx.GraphModule, model: nn.Module, example_input: torch.Tensor) -> None:
    prop = _ShapeProp(gm)
    # ShapeProp prints a traceback to stderr before re-raising; the GraphError says it all.
    with _eval_mode(model), torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        try:
            prop.propagate(example_input)
        except Exception as exc:
            node = prop.failed
            what = describe_node(gm, node) if node is not None else "the model"
            cause = exc.__cause__ or exc
            raise GraphError(
                f"running {type(model).__name__} on the example input of shape "
                f"{tuple(example_input.shape)} failed at {what}: {type(cause).__name__}: "
                f"{cause}. Pass an input the model accepts (batch, channels, height, width "
                "on the model's device and dtype)"
            ) from exc


def find_groups(model: nn.Module, example_input: torch.Tensor, *,
                leaf_modules: Iterable[type] = ()) -> list[ChannelGroup]:
    """The channel groups of ``model``, found by tracing it with ``torch.fx`` and running it
    once on ``example_input`` (in eval mode, without grad; train/eval flags are restored).

    Every group with at least one member is returned, prunable or not (see
    ``ChannelGroup.reason``); ids are list positions, in graph order. Groups describe the
    model as it is now: after thinning, call ``find_groups`` again.

    Args:
        model: the network (Conv1d/2d/3d, Linear and BatchNorm modules are understood;
            other leaf modules and unknown ops make the groups they touch not prunable).
        example_input: one input batch (a small one is enough, e.g. 1x3x64x64).
        leaf_modules: module classes to treat as opaque ops instead of tracing into them
            (the fix for a submodule torch.fx cannot trace).

    Raises:
        GraphError: torch.fx cannot trace the model (the message names the module and
            source line) or the model fails on the example input (names the op).
    """
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"example_input must be a torch.Tensor, got {type(example_input).__name__}")
    gm = _trace(model, tuple(leaf_modules))
    _propagate(gm, model, example_input)
    return channel_groups(gm, model)
