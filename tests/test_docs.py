"""The README documents every schedule key and every shipped schedule."""

from __future__ import annotations

import pytest

from compressor.schedule.fields import field_names
from compressor.schedule.loader import TOP_LEVEL
from compressor.schedule.pruners import PRUNER_TYPES
from compressor.schedule.regularizers import REGULARIZER_TYPES
from compressor.schedule.sections import DataSection, ModelSection, PolicySection, TrainingSection

from .helpers import REPO

README = (REPO / "README.md").read_text()


@pytest.mark.parametrize("cls", [ModelSection, DataSection, TrainingSection, PolicySection,
                                 *PRUNER_TYPES.values(), *REGULARIZER_TYPES.values()],
                         ids=lambda c: c.__name__)
def test_every_key_is_documented(cls):
    missing = [name for name in field_names(cls) if f"`{name}`" not in README]
    assert not missing, f"README does not document {cls.__name__} keys {missing}"


def test_every_type_section_and_schedule_is_documented():
    for name in [*PRUNER_TYPES, *REGULARIZER_TYPES, *TOP_LEVEL]:
        assert f"`{name}`" in README, name
    for path in (REPO / "schedules").glob("*.yaml"):
        assert f"schedules/{path.name}" in README, path.name


def test_readme_commands_are_what_ci_runs():
    assert "bash scripts/test.sh" in README and "bash scripts/quickstart.sh" in README
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    assert "PLACEHOLDER" not in README, "README still has a placeholder for measured numbers"
