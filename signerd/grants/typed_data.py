"""Rendering a grant request as EIP-712 typed data, hashing it, and packaging the signed grant.

The digest doubles as the grant's id ("0x" + hex). It is EIP-712's hashStruct written out for
the one fixed schema in schema.py (TYPES): eth-account's general encoder (encode_typed_data)
walks the types through eth-abi on every call and took three quarters of the time of verifying
a grant. The tests check this encoder against eth-account's on generated grants.
"""

from __future__ import annotations

import copy
import functools
import posixpath
import re
from collections.abc import Mapping
from typing import Any, Final

from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as KeysValidationError

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.request import GrantRequest
from signerd.grants.schema import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    MAX_LABEL,
    MAX_STRING,
    PRIMARY_TYPE,
    TYPES,
    UINT256_MAX,
)
from signerd.grants.summary import summarize

SIGNATURE_LENGTH: Final = 65
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def agent_description(label: str, uid: int | None, pid: int | None, exe: str | None) -> str:
    """What the daemon signs as ``agent``: "weather-bot (uid 1000, pid 4242, python3)".

    Always valid as a grant string (printable ASCII, <= MAX_STRING). Unprintable characters
    become "?"; a too-long label or executable name is cut and marked with "..".
    """
    name = _printable(label) or "unnamed"
    if len(name) > MAX_LABEL:
        name = name[: MAX_LABEL - 2] + ".."
    details = [f"uid {uid}" if uid is not None else "", f"pid {pid}" if pid is not None else ""]
    program = _printable(posixpath.basename(exe)) if exe is not None else ""
    fixed = [detail for detail in details if detail]
    if not fixed and not program:
        return name
    # Room left for the executable once label, uid, pid and punctuation are placed.
    room = MAX_STRING - len(f"{name} ({', '.join([*fixed, ''])})")
    if program and len(program) > room:
        program = program[: room - 2] + ".." if room > 2 else ""
    described = f"{name} ({', '.join([*fixed, program] if program else fixed)})"
    if len(described) > MAX_STRING:
        # Only absurd uid/pid values get here; the cut stays deterministic.
        described = described[: MAX_STRING - 3] + "..."
    return described


def build_grant_typed_data(
    req: GrantRequest, *, account: str, agent: str, nonce: int
) -> dict[str, Any]:
    """The full EIP-712 document for ``req`` signed by ``account``, summary filled in."""
    if req.session_key is None:
        raise ValidationError("sessionKey", "not generated yet")
    message: dict[str, Any] = {
        "account": fields.address(account, "account"),
        "sessionKey": req.session_key,
        "agent": fields.text(agent, "agent", max_length=MAX_STRING),
        "summary": "",
        "allowances": [allowance.to_json() for allowance in req.allowances],
        "targets": list(req.targets),
        "validAfter": req.valid_after,
        "validUntil": req.valid_until,
        "nonce": fields.uint(nonce, "nonce", maximum=UINT256_MAX),
    }
    message["summary"] = summarize(message, req.chain_id)
    return {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": req.chain_id},
        "message": message,
    }


def grant_digest(typed_data: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 hash keccak(0x19 0x01 domainSeparator hashStruct(message)).

    ``typed_data`` must use the grant schema (TYPES, PRIMARY_TYPE); values as the rendering
    and verification produce them (ints, 0x-hex addresses, strings). Raises ValidationError
    naming the first value that cannot be encoded.
    """
    if typed_data.get("types") != TYPES:
        raise ValidationError("typedData.types", "are not the signerd SessionGrant types")
    if typed_data.get("primaryType") != PRIMARY_TYPE:
        raise ValidationError("typedData.primaryType", f"must be {PRIMARY_TYPE!r}")
    domain = _hash_struct("EIP712Domain", typed_data.get("domain"), "typedData.domain")
    message = _hash_struct(PRIMARY_TYPE, typed_data.get("message"), "typedData.message")
    return bytes(keccak(b"\x19\x01" + domain + message))


def grant_id(digest: bytes) -> str:
    """The grant's id: its digest as lowercase 0x-hex."""
    return "0x" + digest.hex()


def normalize_signature(signature: bytes) -> bytes:
    """65 bytes r || s || v with v = 27/28; accepts v = 0/1. Raises ValidationError("signature")."""
    if len(signature) != SIGNATURE_LENGTH:
        raise ValidationError(
            "signature", f"must be {SIGNATURE_LENGTH} bytes, not {len(signature)}"
        )
    v = signature[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise ValidationError("signature", f"v must be 27/28 (or 0/1), not {signature[64]}")
    s = int.from_bytes(signature[32:64], "big")
    # Only low-s signatures (EIP-2) are accepted, so each grant has one signature encoding.
    if s > _SECP256K1_N // 2:
        raise ValidationError("signature", "s is in the upper half of the curve order (not EIP-2)")
    return signature[:64] + bytes([v])


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key made ``signature`` over ``digest``."""
    canonical = normalize_signature(signature)
    try:
        recovered = Signature(canonical[:64] + bytes([canonical[64] - 27]))
        address: str = recovered.recover_public_key_from_msg_hash(digest).to_checksum_address()
    except (BadSignature, KeysValidationError) as exc:
        raise ValidationError("signature", f"does not recover to any key ({exc})") from exc
    return address


def signed_grant(typed_data: Mapping[str, Any], signature: bytes, signer: str) -> dict[str, Any]:
    """The signed-grant document handed to the agent and stored.

    Checks that the signature recovers to ``signer`` over the typed data, so a device that
    signed the wrong thing (or with the wrong key) is caught before the grant leaves.
    """
    signer = fields.address(signer, "signer")
    digest = grant_digest(typed_data)
    canonical = normalize_signature(signature)
    recovered = recover_signer(digest, canonical)
    if recovered != signer:
        raise ValidationError("signature", f"recovers to {recovered}, not to signer {signer}")
    return {
        "id": grant_id(digest),
        "typedData": dict(typed_data),
        "signature": "0x" + canonical.hex(),
        "signer": signer,
    }


@functools.cache
def _type_hash(name: str) -> bytes:
    """keccak(encodeType(name)): the struct, then the structs it references in name order."""
    referenced: set[str] = set()
    pending = [name]
    while pending:
        for field in TYPES[pending.pop()]:
            base = field["type"].removesuffix("[]")
            if base in TYPES and base != name and base not in referenced:
                referenced.add(base)
                pending.append(base)
    encoded = "".join(
        struct + "(" + ",".join(f"{f['type']} {f['name']}" for f in TYPES[struct]) + ")"
        for struct in [name, *sorted(referenced)]
    )
    return bytes(keccak(encoded.encode()))


def _hash_struct(name: str, value: Any, where: str) -> bytes:
    if not isinstance(value, Mapping):
        raise ValidationError(where, "must be an object")
    parts = [_type_hash(name)]
    for field in TYPES[name]:
        key = field["name"]
        if key not in value:
            raise ValidationError(fields.path(where, key), "is required")
        parts.append(_encode_value(field["type"], value[key], fields.path(where, key)))
    return bytes(keccak(b"".join(parts)))


def _encode_value(type_name: str, value: Any, where: str) -> bytes:
    """One 32-byte word of encodeData: the types the grant schema uses, nothing else."""
    if type_name == "address":
        if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
            raise ValidationError(where, "must be 0x followed by 40 hexadecimal digits")
        return bytes(12) + bytes.fromhex(value[2:])
    if type_name == "string":
        if not isinstance(value, str):
            raise ValidationError(where, "must be a string")
        return bytes(keccak(value.encode("utf-8")))
    if type_name.startswith("uint"):
        bits = int(type_name[4:])
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
            raise ValidationError(where, f"must be an integer from 0 to 2**{bits} - 1")
        return value.to_bytes(32, "big")
    if type_name.endswith("[]"):
        if not isinstance(value, list | tuple):
            raise ValidationError(where, "must be an array")
        item_type = type_name[:-2]
        return bytes(
            keccak(
                b"".join(
                    _encode_value(item_type, item, fields.path(where, index))
                    for index, item in enumerate(value)
                )
            )
        )
    return _hash_struct(type_name, value, where)


def _printable(text: str) -> str:
    return _NOT_PRINTABLE.sub("?", text).strip()
