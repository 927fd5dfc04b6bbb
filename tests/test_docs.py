"""The documentation keeps up with the code.

* ``docs/schedule.md`` documents every key of every schedule section and component type,
  and every shipped schedule;
* every shipped schedule starts with the command that runs it;
* ``README.md`` names the commands CI runs.
"""

from __future__ import annotations

import pytest

from compressor.schedule.extensions import EXTENSION_TYPES
from compressor.schedule.fields import field_names
from compressor.schedule.loader import TOP_LEVEL
from compressor.schedule.pruners import PRUNER_TYPES
from compressor.schedule.regularizers import REGULARIZER_TYPES
from compressor.schedule.sections import DataSection, ModelSection, PolicySection, TrainingSection

from .helpers import REPO

README_PATH = REPO / "README.md"
DOCS = REPO / "docs"
SCHEDULE_DOC = (DOCS / "schedule.md").read_text()
SCHEDULES = sorted((REPO / "schedules").glob("*.yaml"))


@pytest.mark.parametrize("cls", [ModelSection, DataSection, TrainingSection, PolicySection,
                                 *PRUNER_TYPES.values(), *REGULARIZER_TYPES.values(),
                                 *EXTENSION_TYPES.values()],
                         ids=lambda c: c.__name__)
def test_every_schedule_key_is_documented(cls):
    missing = [name for name in field_names(cls) if f"`{name}`" not in SCHEDULE_DOC]
    assert not missing, f"docs/schedule.md does not document {cls.__name__} keys {missing}"


def test_every_type_section_and_schedule_is_documented():
    names = [*PRUNER_TYPES, *REGULARIZER_TYPES, *EXTENSION_TYPES, *TOP_LEVEL]
    missing = [name for name in names if f"`{name}`" not in SCHEDULE_DOC]
    assert not missing, f"docs/schedule.md does not document {missing}"
    assert SCHEDULES, "no shipped schedules found"
    missing = [p.name for p in SCHEDULES if f"`schedules/{p.name}`" not in SCHEDULE_DOC]
    assert not missing, f"docs/schedule.md does not list the shipped schedules {missing}"


@pytest.mark.parametrize("path", SCHEDULES, ids=lambda p: p.name)
def test_every_schedule_starts_with_its_command(path):
    header = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    command = f"compress --schedule schedules/{path.name}"
    assert any(command in line for line in header), \
        f"{path.name}: its opening comment does not give the command `{command}`"


def test_readme_commands_are_what_ci_runs():
    readme = README_PATH.read_text()
    assert "bash scripts/test.sh" in readme and "bash scripts/quickstart.sh" in readme
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    assert "PLACEHOLDER" not in readme, "README still has a placeholder for measured numbers"
