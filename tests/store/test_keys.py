"""The keystore row and the sealed held keys in the store: written once, never rewritten."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from signerd.errors import StoreError
from signerd.store import DB_FILENAME, KeystoreRecord, Store

ADDRESS = "0x1111111111111111111111111111111111111111"


def record(daemon_id: str = "aa" * 16) -> KeystoreRecord:
    return KeystoreRecord(daemon_id, "eip712-rfc6979", "m/44'/60'/0'/0/0", ADDRESS, b"c" * 60, 1.0)


def test_the_first_keystore_stays(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.keystore() is None
        assert store.create_keystore(record()) == record()
        assert store.create_keystore(record("bb" * 16)) == record()
        assert store.keystore() == record()


def test_a_held_key_needs_a_keystore_and_is_stored_once(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        with pytest.raises(StoreError, match="no keystore"):
            store.add_held_key(ADDRESS, b"sealed")
        store.create_keystore(record())
        store.add_held_key(ADDRESS, b"sealed")
        with pytest.raises(StoreError, match="already held"):
            store.add_held_key(ADDRESS.upper().replace("0X", "0x"), b"other")
        assert store.held_key(ADDRESS.lower()) == b"sealed"
        assert store.held_key("0x" + "22" * 20) is None
        assert store.held_keys() == {ADDRESS: b"sealed"}


def test_a_sealed_key_is_never_rewritten(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.create_keystore(record())
        store.add_held_key(ADDRESS, b"sealed")
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    with pytest.raises(sqlite3.IntegrityError, match="never rewritten"):
        conn.execute("UPDATE held_keys SET sealed = ?", (b"swapped",))
    conn.close()
    with Store.open(tmp_path) as store:
        assert store.held_key(ADDRESS) == b"sealed"
