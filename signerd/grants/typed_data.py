"""Rendering a grant request as EIP-712 typed data, hashing it, and packaging the signed grant.

The digest doubles as the grant's id ("0x" + hex). It is EIP-712's hashStruct written out for
the two fixed schemas (version 2 in schema.py, version 1 in v1.py): eth-account's general
encoder (encode_typed_data) walks the types through eth-abi on every call and took three
quarters of the time of verifying a grant. The tests check this encoder against eth-account's
on generated documents of both versions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Final

from Crypto.Hash import keccak as _keccak
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as KeysValidationError

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.agent import check_agent
from signerd.grants.request import GrantRequest
from signerd.grants.schema import DOMAIN_VERSION, MAX_STRING, PRIMARY_TYPE, TYPES, UINT256_MAX
from signerd.grants.summary import summary_problem
from signerd.grants.v1 import DOMAIN_VERSION_V1, TYPES_V1

SIGNATURE_LENGTH: Final = 65
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def keccak(data: bytes) -> bytes:
    """Keccak-256, straight from pycryptodome: eth-hash's backend wrapper costs twice as much
    per call, and a grant's digest takes a dozen calls."""
    return _keccak.new(digest_bits=256, data=data).digest()


def build_grant_typed_data(
    req: GrantRequest, *, account: str, agent: str, nonce: int
) -> dict[str, Any]:
    """The full version 2 EIP-712 document for ``req`` signed by ``account``.

    ``agent`` is ``agent_description``'s; the summary goes into the domain's name and the
    message's first field (schema.py says why).
    """
    if req.session_key is None:
        raise ValidationError("sessionKey", "not generated yet")
    # parse_grant_request refuses these already; a request put together by hand stops here.
    problem = summary_problem(req.summary_fields(), req.chain_id)
    if problem is not None:
        raise ValidationError(*problem)
    summary = req.summary()
    message: dict[str, Any] = {
        "summary": summary,
        "agent": check_agent(fields.text(agent, "agent", max_length=MAX_STRING), "agent"),
        "account": fields.address(account, "account"),
        "sessionKey": req.session_key,
        "allowances": [allowance.to_json() for allowance in req.allowances],
        "payees": list(req.payees),
        "targets": list(req.targets),
        "validAfter": req.valid_after,
        "validUntil": req.valid_until,
        "nonce": fields.uint(nonce, "nonce", maximum=UINT256_MAX),
    }
    return {
        "types": {name: [dict(field) for field in members] for name, members in TYPES.items()},
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": summary, "version": DOMAIN_VERSION, "chainId": req.chain_id},
        "message": message,
    }


def grant_digest(typed_data: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 hash keccak(0x19 0x01 domainSeparator hashStruct(message)).

    ``typed_data`` must use a grant schema (version 2's TYPES or version 1's) and
    PRIMARY_TYPE; values as the rendering and verification produce them (ints, 0x-hex
    addresses, strings). Raises ValidationError naming the first value that cannot be encoded.
    """
    types = typed_data.get("types")
    if types == TYPES:
        version = DOMAIN_VERSION
    elif types == TYPES_V1:
        version = DOMAIN_VERSION_V1
    else:
        raise ValidationError("typedData.types", "are not the signerd SessionGrant types")
    if typed_data.get("primaryType") != PRIMARY_TYPE:
        raise ValidationError("typedData.primaryType", f"must be {PRIMARY_TYPE!r}")
    domain = _hash_struct(version, "EIP712Domain", typed_data.get("domain"), "typedData.domain")
    message = _hash_struct(version, PRIMARY_TYPE, typed_data.get("message"), "typedData.message")
    return keccak(b"\x19\x01" + domain + message)


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
        public_key = recovered.recover_public_key_from_msg_hash(digest)
    except (BadSignature, KeysValidationError) as exc:
        raise ValidationError("signature", f"does not recover to any key ({exc})") from exc
    return fields.checksummed(public_key.to_canonical_address())


def signed_grant(
    typed_data: Mapping[str, Any], signature: bytes, signer: str, digest: bytes | None = None
) -> dict[str, Any]:
    """The signed-grant document handed to the agent and stored.

    Checks that the signature recovers to ``signer`` over the typed data, so a device that
    signed the wrong thing (or with the wrong key) is caught before the grant leaves.
    ``digest``: ``grant_digest(typed_data)`` if the caller has it already.
    """
    signer = fields.address(signer, "signer")
    if digest is None:
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


_SCHEMAS: Final = {DOMAIN_VERSION: TYPES, DOMAIN_VERSION_V1: TYPES_V1}


@functools.lru_cache(maxsize=4096)
def _string_hash(value: str) -> bytes:
    """keccak of a string value: cached, as a grant's summary is hashed twice (domain name and
    first field) and symbols and agents recur across grants."""
    return keccak(value.encode("utf-8"))


@functools.cache
def _type_hash(version: str, name: str) -> bytes:
    """keccak(encodeType(name)): the struct, then the structs it references in name order."""
    types = _SCHEMAS[version]
    referenced: set[str] = set()
    pending = [name]
    while pending:
        for field in types[pending.pop()]:
            base = field["type"].removesuffix("[]")
            if base in types and base != name and base not in referenced:
                referenced.add(base)
                pending.append(base)
    encoded = "".join(
        struct + "(" + ",".join(f"{f['type']} {f['name']}" for f in types[struct]) + ")"
        for struct in [name, *sorted(referenced)]
    )
    return keccak(encoded.encode())


def _hash_struct(version: str, name: str, value: Any, where: str) -> bytes:
    if not isinstance(value, Mapping):
        raise ValidationError(where, "must be an object")
    parts = [_type_hash(version, name)]
    for field in _SCHEMAS[version][name]:
        key = field["name"]
        if key not in value:
            raise ValidationError(fields.path(where, key), "is required")
        parts.append(_encode_value(version, field["type"], value[key], fields.path(where, key)))
    return keccak(b"".join(parts))


def _encode_value(version: str, type_name: str, value: Any, where: str) -> bytes:
    """One 32-byte word of encodeData: the types the grant schemas use, nothing else."""
    if type_name == "address":
        if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
            raise ValidationError(where, "must be 0x followed by 40 hexadecimal digits")
        return bytes(12) + bytes.fromhex(value[2:])
    if type_name == "string":
        if not isinstance(value, str):
            raise ValidationError(where, "must be a string")
        return _string_hash(value)
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
                    _encode_value(version, item_type, item, fields.path(where, index))
                    for index, item in enumerate(value)
                )
            )
        )
    return _hash_struct(version, type_name, value, where)
