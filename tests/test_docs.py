"""The documentation keeps up with the code.

* ``docs/schedule.md`` documents every key of every schedule section and component type,
  and every shipped schedule;
* ``docs/cli.md`` documents every option of every ``compress`` subcommand, in that
  subcommand's section;
* every shipped schedule starts with the command that runs it;
* ``README.md`` stays a short user's page that names the commands CI runs;
* the README and ``docs/`` speak of the project only (no development-history words).
"""

from __future__ import annotations

import argparse
import re

import pytest

from compressor.cli.main import SUBCOMMANDS, build_parser
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
CLI_DOC = (DOCS / "cli.md").read_text()
SCHEDULES = sorted((REPO / "schedules").glob("*.yaml"))
README_MAX_LINES = 260
#: Words of the development process, not of the project (matched case-insensitively, whole words).
HISTORY_WORDS = re.compile(r"\b(sessions?|issues?|the main job|main-job)\b", re.IGNORECASE)


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


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _cli_sections() -> dict[str, str]:
    """docs/cli.md's ``## `compress NAME` `` sections (to the next ``## `` heading): NAME → text."""
    sections: dict[str, str] = {}
    name = None
    for line in CLI_DOC.splitlines():
        if line.startswith("## "):
            match = re.fullmatch(r"## `compress (\w+)`", line)
            name = match.group(1) if match else None
            if name is not None:
                sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return sections


def test_cli_doc_has_a_section_per_subcommand():
    subparsers = _subparsers(build_parser())
    assert set(subparsers) == set(SUBCOMMANDS)
    assert set(_cli_sections()) == set(SUBCOMMANDS), "docs/cli.md: one `## `compress NAME`` per subcommand"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_cli_option_is_documented(name):
    subparser = _subparsers(build_parser())[name]
    section = _cli_sections()[name]
    options = [opt for action in subparser._actions for opt in action.option_strings
               if opt not in ("-h", "--help")]
    missing = [opt for opt in options if f"`{opt}" not in section]
    assert not missing, f"docs/cli.md section `compress {name}` does not document {missing}"
    positionals = [a.dest for a in subparser._actions if not a.option_strings]
    missing = [p for p in positionals if p.upper() not in section]
    assert not missing, f"docs/cli.md section `compress {name}` does not name the arguments {missing}"


def test_cli_doc_names_no_option_that_does_not_exist():
    subparsers = _subparsers(build_parser())
    for name, section in _cli_sections().items():
        known = {opt for action in subparsers[name]._actions for opt in action.option_strings}
        named = set(re.findall(r"`(--[a-z][a-z0-9-]*)", section))
        assert named <= known, f"docs/cli.md `compress {name}` names unknown options {named - known}"


def test_readme_is_a_short_page_with_the_commands_ci_runs():
    readme = README_PATH.read_text()
    lines = len(readme.splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; keep it ≤ {README_MAX_LINES}"
    assert "bash scripts/test.sh" in readme and "bash scripts/quickstart.sh" in readme
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    assert (REPO / "scripts" / "quickstart.sh").is_file()
    assert "PLACEHOLDER" not in readme, "README still has a placeholder for measured numbers"


@pytest.mark.parametrize("path", [README_PATH, *sorted(DOCS.glob("*.md"))],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_docs_speak_of_the_project_only(path):
    found = [f"{path.name}:{i}: {m.group(0)!r}" for i, line in enumerate(path.read_text().splitlines(), 1)
             for m in HISTORY_WORDS.finditer(line)]
    assert not found, "development-history words (they belong in commit messages): " + ", ".join(found)


def test_history_word_check_finds_what_it_looks_for():
    for text in ("Session 3", "see issue 4", "The main job", "scripts/main-job.sh", "two sessions"):
        assert HISTORY_WORDS.search(text), text
    for text in ("an InferenceSession", "issued", "tissue", "the main jobs"):
        assert not HISTORY_WORDS.search(text), text
