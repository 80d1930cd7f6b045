"""Finding grants from a client: every page of ``signerd_listGrants``, the grants of one
agent, and a grant's full id from a unique prefix (what a person types, like git's hashes).

On the client side, over the daemon's own listing: it sees exactly the grants the caller may
see (a uid its own, an admin every one), so a prefix can never reveal another uid's grant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from signerd.errors import GrantNotFound, ValidationError

MIN_PREFIX_DIGITS = 4
PAGE = 500  # signerd_listGrants' largest page
_SHOWN = 4  # candidates an ambiguity error names
_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX_DIGITS},64}}")


class Lister(Protocol):
    def list_grants(self, **params: Any) -> dict[str, Any]: ...


def iter_grants(client: Lister, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every grant the daemon lists with ``filters`` (status, sessionKey), newest first."""
    before = None
    while True:
        params = {**filters, "limit": PAGE}
        if before is not None:
            params["before"] = before
        page = client.list_grants(**params)
        yield from page["grants"]
        before = page["next"]
        if before is None:
            return


def resolve_grant_id(client: Lister, text: str) -> str:
    """The full id of the one grant whose id starts with ``text`` (with or without 0x, at
    least MIN_PREFIX_DIGITS hex digits). GrantNotFound if none does; ValidationError
    (field ``id``) if ``text`` is not hex or several grants start with it."""
    digits = text.strip().lower().removeprefix("0x")
    if not _PREFIX.fullmatch(digits):
        raise ValidationError(
            "id",
            f"{text!r} is not a grant id or a prefix of one ({MIN_PREFIX_DIGITS} to 64 hex digits)",
        )
    if len(digits) == 64:
        return "0x" + digits
    matches: list[str] = []
    for grant in iter_grants(client):
        if grant["id"].lower().removeprefix("0x").startswith(digits):
            matches.append(grant["id"])
            if len(matches) > _SHOWN:
                break
    if not matches:
        raise GrantNotFound(f"no grant id starts with 0x{digits}")
    if len(matches) > 1:
        some = ", ".join(m[:18] + "..." for m in matches[:_SHOWN])
        more = " and more" if len(matches) > _SHOWN else ""
        raise ValidationError(
            "id", f"0x{digits} is ambiguous: it starts {some}{more}; give more digits"
        )
    return matches[0]


def of_agent(grant: Mapping[str, Any], label: str) -> bool:
    """Whether ``grant`` was asked for under the agent label ``label`` (the quoted part of its
    ``agent``: the daemon writes the label first, in quotes, then the peer it saw)."""
    return str(grant.get("agent", "")).startswith(f'"{label}"')
