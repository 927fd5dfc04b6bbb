"""Where the network to compress comes from: dense training, ``model.checkpoint``,
``model.weights``, or an explicit ``training.from_scratch: true``; never silently an
untrained network."""

from __future__ import annotations

import pytest

from compressor.runner.run import check_schedule
from compressor.schedule import ScheduleError

from ..helpers import VALID_SCHEDULE

UNTRAINED = VALID_SCHEDULE.replace("  dense_epochs: 1\n", "")


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("epochs", ["  epochs: 4", "  epochs: 0"])
def test_compressing_an_untrained_network_is_an_error_at_its_line(write_schedule, epochs):
    text = UNTRAINED.replace("  epochs: 4", epochs)
    path = write_schedule(text)
    with pytest.raises(ScheduleError) as info:
        check_schedule(str(path))
    found = [p for p in info.value.problems if p.key == "training.dense_epochs"]
    assert found, str(info.value)
    assert found[0].line == _line(text, "training:")
    message = found[0].message
    assert "untrained" in message and "model.checkpoint" in message and "model.weights" in message \
        and "from_scratch: true" in message


def test_explicit_zero_dense_epochs_is_reported_at_that_line(write_schedule):
    text = VALID_SCHEDULE.replace("dense_epochs: 1", "dense_epochs: 0")
    with pytest.raises(ScheduleError) as info:
        check_schedule(str(write_schedule(text)))
    (problem,) = [p for p in info.value.problems if p.key == "training.dense_epochs"]
    assert problem.line == _line(text, "dense_epochs: 0")


def test_from_scratch_true_allows_it(write_schedule):
    text = UNTRAINED.replace("training:\n", "training:\n  from_scratch: true\n")
    assert check_schedule(str(write_schedule(text))).training.from_scratch is True


def test_from_scratch_contradicting_a_start_is_an_error(write_schedule):
    text = VALID_SCHEDULE.replace("training:\n", "training:\n  from_scratch: true\n")
    with pytest.raises(ScheduleError) as info:
        check_schedule(str(write_schedule(text)))
    (problem,) = [p for p in info.value.problems if p.key == "training.from_scratch"]
    assert "contradicts" in problem.message and "dense_epochs: 1" in problem.message
    assert problem.line == _line(text, "from_scratch")


def test_a_dense_checkpoint_is_a_start(write_schedule, tmp_path):
    text = UNTRAINED.replace("  arch: mnist_net\n", f"  arch: mnist_net\n  checkpoint: {tmp_path}/d.pt\n")
    assert check_schedule(str(write_schedule(text))).model.checkpoint.endswith("d.pt")
