"""Every error class has its own documented code, and the client rebuilds the same class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signerd import errors
from signerd.errors import ErrorCode, SignerdError, error_classes, error_from_code
from signerd.rpc import protocol

README = Path(__file__).resolve().parents[1] / "README.md"
CONCRETE = [cls for cls in error_classes() if cls is not SignerdError]


def test_every_class_has_a_distinct_code() -> None:
    codes = [cls.code for cls in CONCRETE]
    assert len(codes) == len(set(codes)), sorted(
        (c.name, cls.__name__) for cls, c in zip(CONCRETE, codes, strict=True)
    )


def test_every_code_belongs_to_a_class() -> None:
    assert {cls.code for cls in CONCRETE} == set(ErrorCode)


def test_every_code_is_documented_in_the_readme() -> None:
    rows = dict(re.findall(r"^\| (-?\d+) \| `([A-Z_]+)` \|", README.read_text(), re.MULTILINE))
    for code in ErrorCode:
        assert rows.get(str(int(code))) == code.name, f"{code.name} ({int(code)}) not in README"


def test_every_class_is_exported_by_the_errors_module() -> None:
    for cls in CONCRETE:
        assert getattr(errors, cls.__name__) is cls


@pytest.mark.parametrize("cls", CONCRETE, ids=lambda cls: cls.__name__)
def test_the_wire_round_trip_gives_back_the_same_class(cls: type[SignerdError]) -> None:
    original = (
        errors.ValidationError("allowances.0.amount", "must be positive")
        if cls is errors.ValidationError
        else cls("something happened")
    )
    wire = protocol.error_object(original)
    assert wire["code"] == int(cls.code)
    again = error_from_code(wire["code"], wire["message"], wire.get("data"))
    assert type(again) is cls
    assert str(again) == str(original)
    assert again.name == cls.code.name


def test_validation_errors_name_their_field_on_the_wire() -> None:
    wire = protocol.error_object(errors.ValidationError("nonce", "must be an integer"))
    assert wire == {
        "code": -32602,
        "message": "nonce: must be an integer",
        "data": {"field": "nonce"},
    }
    again = error_from_code(wire["code"], wire["message"], wire["data"])
    assert isinstance(again, errors.ValidationError)
    assert (again.field, again.message) == ("nonce", "must be an integer")


def test_an_unknown_code_is_an_internal_error() -> None:
    again = error_from_code(-31999, "from a newer daemon")
    assert type(again) is errors.InternalError
    assert "-31999" in str(again)
