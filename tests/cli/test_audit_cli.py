"""`signerd audit --verify` on a store someone edited by hand: a verdict, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
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


def test_output_into_a_reader_that_stopped_ends_quietly(tmp_path: Path) -> None:
    """`signerd audit | head -1`: the pipe closing is not the daemon going away."""
    with Store.open(tmp_path) as store:
        store.append_audit("request_received", grant_id=None, peer={"uid": 1}, detail={})
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        result = subprocess.run(
            [sys.executable, "-m", "signerd.cli", "audit", "--data-dir", str(tmp_path)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (141, "")
