"""Errors of the dependency analysis."""

from __future__ import annotations

from ..errors import CompressorError


class GraphError(CompressorError):
    """A model cannot be analysed (torch.fx cannot trace it, or it fails on the example
    input); the message names the module or op and suggests a fix."""
