"""Errors that describe a user's mistake.

Anything raised as a ``CompressorError`` is printed by the command line as a plain
message (no traceback) and exits with status 2. Library code raises these for bad
input (files, keys, tensors, data directories); genuine bugs stay ordinary
exceptions so their tracebacks are kept.
"""

from __future__ import annotations


class CompressorError(Exception):
    """A problem with the user's input, explained in the message."""


class DataError(CompressorError):
    """A data set is missing or malformed."""


class ModelError(CompressorError):
    """A model name or model option is not valid."""


class CheckpointError(CompressorError):
    """A checkpoint cannot be read or does not fit the model."""


class TrainingError(CompressorError):
    """Training diverged (non-finite loss); the message suggests a fix."""
