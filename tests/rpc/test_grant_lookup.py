"""Grant ids from unique prefixes, and listings across pages, over the daemon's listing."""

from __future__ import annotations

from typing import Any

import pytest

from signerd.errors import GrantNotFound, ValidationError
from signerd.rpc import grant_lookup
from signerd.rpc.grant_lookup import iter_grants, of_agent, resolve_grant_id

IDS = ["0x" + prefix + "0" * (64 - len(prefix)) for prefix in ("abcd1", "abcd2", "ef01", "9999")]


class Lister:
    """signerd_listGrants over IDS, newest first, in pages of ``page``."""

    def __init__(self, page: int) -> None:
        self.page = page
        self.calls: list[dict[str, Any]] = []

    def list_grants(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        start = IDS.index(params["before"]) + 1 if "before" in params else 0
        chunk = IDS[start : start + self.page]
        more = start + self.page < len(IDS)
        return {"grants": [{"id": i} for i in chunk], "next": chunk[-1] if more else None}


def test_every_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grant_lookup, "PAGE", 3)
    lister = Lister(page=3)
    assert [g["id"] for g in iter_grants(lister, status="active")] == IDS
    assert lister.calls == [
        {"status": "active", "limit": 3},
        {"status": "active", "limit": 3, "before": IDS[2]},
    ]


@pytest.mark.parametrize("text", ["0xef01", "EF01", "ef01000", IDS[2], IDS[2].upper()[2:]])
def test_a_unique_prefix_names_its_grant(text: str) -> None:
    assert resolve_grant_id(Lister(page=2), text) == IDS[2]


def test_a_full_id_is_taken_as_it_is() -> None:
    lister = Lister(page=2)
    unknown = "0x" + "7" * 64
    assert resolve_grant_id(lister, unknown) == unknown and lister.calls == []


def test_an_ambiguous_prefix_names_the_candidates() -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_grant_id(Lister(page=2), "0xabcd")
    assert caught.value.field == "id"
    assert "0xabcd is ambiguous: it starts 0xabcd100000000000..., 0xabcd2" in caught.value.message


@pytest.mark.parametrize("text", ["0xab", "xyz12", "0x" + "a" * 65, ""])
def test_not_a_prefix(text: str) -> None:
    with pytest.raises(ValidationError, match="4 to 64 hex digits"):
        resolve_grant_id(Lister(page=2), text)


def test_no_grant_starts_with_it() -> None:
    with pytest.raises(GrantNotFound, match="no grant id starts with 0x1234"):
        resolve_grant_id(Lister(page=2), "1234")


def test_the_agent_is_the_quoted_label() -> None:
    grant = {"agent": '"weather-bot" via uid 1000 pid 7'}
    assert of_agent(grant, "weather-bot")
    assert not of_agent(grant, "weather") and not of_agent(grant, "bot")
