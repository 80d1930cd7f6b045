"""`signerd audit --verify` on a store someone edited by hand: a verdict, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from signerd.store import DB_FILENAME, Store
from tests.store.support import drop_triggers
from tests.support import signerd_cli

EDITS = {
    "dropped audit table": ["DROP TABLE audit"],
    "dropped head": ["DROP TABLE audit_head"],
    "invalid JSON cell": ["UPDATE audit SET detail = '{not json' WHERE seq = 2"],
    "invalid JSON peer": ["UPDATE audit SET peer = '[' WHERE seq = 1"],
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_broken_chain_is_reported_broken_with_a_reason(tmp_path: Path, edit: str) -> None:
    with Store.open(tmp_path) as store:
        for n in range(3):
            store.append_audit("request_received", grant_id=None, peer={"uid": 1}, detail={"n": n})
    conn = sqlite3.connect(tmp_path / DB_FILENAME, isolation_level=None)
    drop_triggers(conn)
    for statement in EDITS[edit]:
        conn.execute(statement)
    conn.close()
    result = signerd_cli("audit", "--verify", "--data-dir", str(tmp_path))
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert "audit chain BROKEN" in result.stderr, result.stderr
