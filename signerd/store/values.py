"""How the store writes values: canonical JSON, integers wider than SQLite's, checked inputs.

Shared by the grants, spends and audit modules, so every table encodes a value one way.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Final

from signerd.errors import ValidationError

JSONDict = dict[str, Any]

MAX_PAGE: Final = 1000
UINT64_LIMIT: Final = 2**64
UINT256_LIMIT: Final = 2**256
INT64_MAX: Final = 2**63 - 1
# Field names that would mean a secret is about to be persisted; compared after lowercasing
# and removing "_" and "-", so privateKey / private_key / PRIVATE-KEY all match.
_SECRET_FIELDS: Final = frozenset({"privatekey", "secretkey", "mnemonic", "seed", "xprv"})
_HEX: Final = re.compile(r"0x[0-9a-fA-F]*")


def canonical_json(value: Any) -> str:
    """The one JSON encoding of a value: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def json_object(field: str, value: JSONDict | None) -> JSONDict | None:
    """The value as it reads back from storage (so hashes recompute), or ValidationError."""
    if value is None:
        return None
    flat = _flat_key(value)
    if flat is not None:
        return dict(_flat_object(field, flat))
    normal: JSONDict = json.loads(json_text(field, value))
    return normal


def peer_text(peer: JSONDict | None) -> str:
    """``canonical_json`` of an audit entry's peer: a connection's peer is written with
    every entry of its requests, so flat ones (uid, pid, gid, exe) are encoded once."""
    flat = None if peer is None else _flat_key(peer)
    return canonical_json(peer) if flat is None else _flat_text(flat)


_FlatKey = tuple[tuple[Any, type, Any], ...]


def _flat_key(value: JSONDict) -> _FlatKey | None:
    """A key for a small object of plain strings and integers (a peer), with each value's
    type (True is not 1); None for anything else."""
    if type(value) is not dict or len(value) > 8:
        return None
    key = tuple((k, type(v), v) for k, v in value.items())
    for _, kind, _ in key:
        if kind is not str and kind is not int and kind is not type(None):
            return None
    return key


@functools.lru_cache(maxsize=256)
def _flat_text(key: _FlatKey) -> str:
    return canonical_json({k: v for k, _, v in key})


@functools.lru_cache(maxsize=256)
def _flat_object(field: str, key: _FlatKey) -> JSONDict:
    normal: JSONDict = json.loads(json_text(field, {k: v for k, _, v in key}))
    return normal


def json_text(field: str, value: JSONDict) -> str:
    """The stored text of a JSON object (canonical_json), or ValidationError: not an object,
    not serialisable, or naming a secret."""
    if not isinstance(value, dict):
        raise ValidationError(field, "must be a JSON object")
    try:
        text = canonical_json(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"not JSON-serialisable: {exc}") from exc
    if _may_name_a_secret(text):
        _refuse_secrets(field, json.loads(text))
    return text


def _may_name_a_secret(text: str) -> bool:
    """False only if no key of the JSON ``text`` can be a secret's field name.

    A key appears verbatim in ASCII JSON, so a secret's name that is nowhere in the text once
    lowercased and stripped of "_" and "-" cannot be a key. Escapes (a key spelled with a
    non-ASCII letter that lowercases to ASCII) leave the walk to decide.
    """
    if "\\u" in text:
        return True
    folded = text.lower().replace("_", "").replace("-", "")
    return any(name in folded for name in _SECRET_FIELDS)


def _refuse_secrets(field: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower().replace("_", "").replace("-", "") in _SECRET_FIELDS:
                raise ValidationError(f"{field}.{key}", "secrets are never stored")
            _refuse_secrets(f"{field}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_secrets(f"{field}.{index}", item)


def check_uint(field: str, value: int, limit: int) -> None:
    """ValidationError unless ``value`` is an int (not a bool) in ``[0, limit)``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise ValidationError(field, f"must be an integer in [0, 2**{limit.bit_length() - 1})")


def check_page(limit: int) -> None:
    """ValidationError unless ``limit`` is a page size the store serves (1..MAX_PAGE)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be between 1 and {MAX_PAGE}")


def hex_bytes(field: str, value: str, size: int) -> str:
    """``value`` as lowercase 0x-hex of exactly ``size`` bytes (addresses: 20, hashes: 32).

    Lowercase, so the same bytes written in another case are the same key in the database.
    """
    if not isinstance(value, str) or len(value) != 2 + 2 * size or not _HEX.fullmatch(value):
        raise ValidationError(field, f"must be 0x followed by {2 * size} hexadecimal digits")
    return value.lower()


def u64_text(value: int) -> str:
    """A uint64 as 20-digit zero-padded text, whose text order is numeric order."""
    return f"{value:020d}"
