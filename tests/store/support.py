"""Helpers for the store tests: the database file as an outside tool sees it, and grants
whose signed document carries allowances for the spend ledger."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from signerd.store import DB_FILENAME, StoredGrant
from tests.support import make_grant

DAY = 86_400
START = 1_750_000_000
END = START + 30 * DAY


def raw(tmp_path: Path) -> sqlite3.Connection:
    """A plain connection to the store's file, as an attacker (or a careless tool) would use."""
    return sqlite3.connect(tmp_path / "data" / DB_FILENAME, isolation_level=None)


def drop_triggers(conn: sqlite3.Connection) -> None:
    """Remove every trigger, as someone editing the file by hand can."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in names:
        conn.execute(f"DROP TRIGGER {name}")


def spend_grant(
    n: int, allowances: list[tuple[str, int, int]], *, valid_until: int = END
) -> StoredGrant:
    """Grant ``n``, valid from START, whose signed document carries (token, amount, period)s."""
    grant = make_grant(n, valid_after=START, valid_until=valid_until)
    typed_data = grant.document["typedData"]
    message = {
        **typed_data["message"],
        "allowances": [
            {
                "token": t,
                "symbol": "",
                "decimals": 0,
                "amount": a,
                "period": p,
                "maxPerPayment": 0,
            }
            for t, a, p in allowances
        ],
    }
    document = {**grant.document, "typedData": {**typed_data, "message": message}}
    return dataclasses.replace(grant, document=document)
