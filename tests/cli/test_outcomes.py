"""Every error class exits with a documented code, decided by an entry of its own kind."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from signerd import errors
from signerd.cli.outcomes import ExitCode, entry_for, exit_code_of
from signerd.errors import SignerdError, error_classes

README = Path(__file__).resolve().parents[2] / "README.md"


def documented() -> dict[int, set[str]]:
    """The README's exit code table: exit status -> the error names it lists."""
    text = README.read_text()
    table = text[text.index("| exit | outcome | errors |") :].split("\n\n", 1)[0]
    rows = re.findall(r"^\| (\d+) \| [^|]+ \|([^|]*)\|$", table, re.MULTILINE)
    return {int(code): set(re.findall(r"`([A-Z_]+)`", names)) for code, names in rows}


def test_the_readme_documents_every_exit_code() -> None:
    assert set(documented()) == {int(code) for code in ExitCode}


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_maps_to_its_documented_exit_code(cls: type[SignerdError]) -> None:
    code = exit_code_of(cls("x") if cls is not errors.ValidationError else cls("f", "x"))
    assert cls.code.name in documented()[int(code)], f"{cls.__name__} exits {int(code)}"
    # Decided by an entry for its own kind, never by falling through to the base class.
    if cls not in (SignerdError, errors.InternalError):
        assert entry_for(cls)[0] is not SignerdError, f"{cls.__name__} has no entry"


def test_outside_errors() -> None:
    assert exit_code_of(KeyboardInterrupt()) == ExitCode.INTERRUPTED == 130
    assert exit_code_of(click.UsageError("bad")) == ExitCode.INVALID_INPUT
    assert exit_code_of(RuntimeError("bug")) == ExitCode.INTERNAL
