"""EIP-3009 payment authorizations: parsing one, checking it against a grant, its digest.

The only typed data the daemon signs with a session key is an EIP-3009
``TransferWithAuthorization`` or ``ReceiveWithAuthorization`` of a token, in the JSON form of
``eth_signTypedData_v4`` (domain {name, version, chainId, verifyingContract}, types,
primaryType, message {from, to, value, validAfter, validBefore, nonce}). Exact types are
required: an extra or reordered field would change what the token's contract hashes, so
anything else is refused before a key is touched.

Pure functions; the digest is EIP-712's hashStruct written out for this one fixed struct (the
tests check it against eth-account's general encoder). The digest covers the whole document,
so it also serves as the payment's content hash: the same nonce with the same digest is a
retry, with another digest a conflict.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from signerd.addresses import checksum_address
from signerd.errors import PaymentRefused
from signerd.grants.caps import allowances_for
from signerd.grants.typed_data import keccak
from signerd.store.grants import StoredGrant

PRIMARY_TYPES: Final = ("TransferWithAuthorization", "ReceiveWithAuthorization")
AUTHORIZATION_FIELDS: Final = (
    ("from", "address"),
    ("to", "address"),
    ("value", "uint256"),
    ("validAfter", "uint256"),
    ("validBefore", "uint256"),
    ("nonce", "bytes32"),
)
DOMAIN_FIELDS: Final = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)
_DOCUMENT_KEYS: Final = frozenset({"domain", "types", "primaryType", "message"})
_UINT256_LIMIT: Final = 2**256
_MAX_NAME: Final = 256


def _type_hash(name: str, fields: Sequence[tuple[str, str]]) -> bytes:
    return keccak(f"{name}({','.join(f'{t} {n}' for n, t in fields)})".encode())


_DOMAIN_TYPEHASH: Final = _type_hash("EIP712Domain", DOMAIN_FIELDS)
_TYPEHASHES: Final = {name: _type_hash(name, AUTHORIZATION_FIELDS) for name in PRIMARY_TYPES}


@dataclass(frozen=True)
class Authorization:
    """A well-formed EIP-3009 authorization. Addresses are checksummed; ``nonce`` is 0x + 64
    lowercase hex (the spend ledger's key); ``digest`` is what the session key signs."""

    primary_type: str
    name: str
    version: str
    chain_id: int
    token: str
    sender: str
    payee: str
    value: int
    valid_after: int
    valid_before: int
    nonce: str
    digest: bytes

    @property
    def content_hash(self) -> str:
        """The idempotency content hash: the digest, which covers every field."""
        return "0x" + self.digest.hex()


def refuse(reason: str, message: str, **data: Any) -> PaymentRefused:
    """A PaymentRefused whose data names the reason as a stable slug."""
    return PaymentRefused(message, {"reason": reason, **data})


def parse_authorization(typed_data: Any) -> Authorization:
    """The authorization a typed-data document states; PaymentRefused ("not_eip3009") for
    anything that is not exactly an EIP-3009 authorization in the JSON form."""
    if not isinstance(typed_data, Mapping) or set(typed_data) != _DOCUMENT_KEYS:
        raise _not_eip3009("typedData", f"must have exactly {sorted(_DOCUMENT_KEYS)}")
    primary = typed_data["primaryType"]
    if primary not in PRIMARY_TYPES:
        raise _not_eip3009("primaryType", f"must be one of {', '.join(PRIMARY_TYPES)}")
    _check_types(typed_data["types"], primary)
    domain = _exact_keys(typed_data["domain"], "domain", DOMAIN_FIELDS)
    message = _exact_keys(typed_data["message"], "message", AUTHORIZATION_FIELDS)
    name = _string(domain["name"], "domain.name")
    version = _string(domain["version"], "domain.version")
    chain_id = _uint(domain["chainId"], "domain.chainId")
    token = _address(domain["verifyingContract"], "domain.verifyingContract")
    sender = _address(message["from"], "message.from")
    payee = _address(message["to"], "message.to")
    value = _uint(message["value"], "message.value")
    valid_after = _uint(message["validAfter"], "message.validAfter")
    valid_before = _uint(message["validBefore"], "message.validBefore")
    nonce = _bytes32(message["nonce"], "message.nonce")
    domain_separator = _domain_separator(name, version, chain_id, token)
    struct_hash = keccak(
        _TYPEHASHES[primary]
        + bytes.fromhex(sender[2:]).rjust(32, b"\0")
        + bytes.fromhex(payee[2:]).rjust(32, b"\0")
        + value.to_bytes(32, "big")
        + valid_after.to_bytes(32, "big")
        + valid_before.to_bytes(32, "big")
        + nonce
    )
    digest = keccak(b"\x19\x01" + domain_separator + struct_hash)
    return Authorization(
        primary, name, version, chain_id, token, sender, payee, value,
        valid_after, valid_before, "0x" + nonce.hex(), digest,
    )  # fmt: skip


def transfer_authorization(
    domain: Mapping[str, Any],
    sender: str,
    payee: str,
    value: int,
    valid_before: int,
    *,
    nonce: str | None = None,
    valid_after: int = 0,
) -> dict[str, Any]:
    """An EIP-3009 ``TransferWithAuthorization`` in the JSON form x402's client signs, for
    callers that build one themselves; ``domain`` is the token's EIP-712 domain ({name,
    version, chainId, verifyingContract}); a fresh random nonce unless one is given."""
    return {
        "domain": dict(domain),
        "types": {
            "TransferWithAuthorization": [
                {"name": name, "type": kind} for name, kind in AUTHORIZATION_FIELDS
            ]
        },
        "primaryType": "TransferWithAuthorization",
        "message": {
            "from": sender,
            "to": payee,
            "value": value,
            "validAfter": valid_after,
            "validBefore": valid_before,
            "nonce": nonce or "0x" + secrets.token_hex(32),
        },
    }


@lru_cache(maxsize=1024)
def _domain_separator(name: str, version: str, chain_id: int, token: str) -> bytes:
    """EIP-712's hashStruct of the token's domain: the same few tokens pay again and again."""
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(name.encode())
        + keccak(version.encode())
        + chain_id.to_bytes(32, "big")
        + bytes.fromhex(token[2:]).rjust(32, b"\0")
    )


def check_against_grant(auth: Authorization, grant: StoredGrant, now: int) -> None:
    """PaymentRefused unless ``auth`` is a payment the grant allows at ``now``.

    The grant's status (revoked, expired) is the caller's to check first; the window budget
    is the spend ledger's. Checked here: the payer is the grant's session key, the chain and
    token are the grant's, the payee is one of its payees (none listed: anyone), the value is
    positive and within every ``maxPerPayment`` of the token (0: no bound), and the
    authorization's validity is a window that has not ended and ends by the grant's end.
    """
    if auth.sender != checksum_address(grant.session_key):
        raise refuse(
            "wrong_from",
            f"from {auth.sender} is not the grant's session key {grant.session_key}",
        )
    if auth.chain_id != grant.chain_id:
        raise refuse("wrong_chain", f"chain {auth.chain_id} is not the grant's {grant.chain_id}")
    allowances = allowances_for(grant.allowances, auth.token)
    if not allowances:
        raise refuse("token_not_allowed", f"the grant has no allowance for {auth.token}")
    if grant.payees and auth.payee.lower() not in grant.payees:
        raise refuse("payee_not_allowed", f"{auth.payee} is not one of the grant's payees")
    if auth.value == 0:
        raise refuse("zero_value", "a payment of 0 needs no signature")
    for allowance in allowances:
        if allowance.max_per_payment and auth.value > allowance.max_per_payment:
            raise refuse(
                "over_max_per_payment",
                f"{auth.value} exceeds the grant's maximum of {allowance.max_per_payment}"
                " per payment",
                maxPerPayment=str(allowance.max_per_payment),
            )
    if auth.valid_before > grant.valid_until:
        raise refuse(
            "valid_after_grant",
            f"validBefore {auth.valid_before} is after the grant's end {grant.valid_until}",
        )
    if auth.valid_before <= now:
        raise refuse("authorization_expired", f"validBefore {auth.valid_before} has passed")
    if auth.valid_after >= auth.valid_before:
        raise refuse("empty_validity", "validAfter must be before validBefore")


def _not_eip3009(field: str, problem: str) -> PaymentRefused:
    return refuse("not_eip3009", f"not an EIP-3009 authorization: {field} {problem}", field=field)


def _check_types(types: Any, primary: str) -> None:
    """The types: the primary type's exact fields, and EIP712Domain's exact fields if given."""
    expected = {primary: AUTHORIZATION_FIELDS, "EIP712Domain": DOMAIN_FIELDS}
    if not isinstance(types, Mapping) or primary not in types or not set(types) <= set(expected):
        raise _not_eip3009("types", f"must define {primary} (and at most EIP712Domain)")
    for name, fields in types.items():
        if not isinstance(fields, list) or [
            (f.get("name"), f.get("type")) if isinstance(f, Mapping) and len(f) == 2 else None
            for f in fields
        ] != list(expected[name]):
            raise _not_eip3009(f"types.{name}", "must be exactly the EIP-3009 fields")


def _exact_keys(value: Any, field: str, fields: Sequence[tuple[str, str]]) -> Mapping[str, Any]:
    names = {name for name, _ in fields}
    if not isinstance(value, Mapping) or set(value) != names:
        raise _not_eip3009(field, f"must have exactly {', '.join(n for n, _ in fields)}")
    return value


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_NAME:
        raise _not_eip3009(field, f"must be a string of at most {_MAX_NAME} characters")
    return value


def _uint(value: Any, field: str) -> int:
    """A uint256 as a JSON integer or a decimal string (JSON readers lose big integers)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT256_LIMIT:
        raise _not_eip3009(field, "must be a uint256 (integer or decimal string)")
    return value


def _hex(value: Any, field: str, size: int, what: str) -> bytes:
    if isinstance(value, str) and len(value) == 2 + 2 * size and value[:2] in ("0x", "0X"):
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = b""
        if len(raw) == size:  # fromhex skips spaces: a spaced string comes out short
            return raw
    raise _not_eip3009(field, f"must be {what} (0x + {2 * size} hex digits)")


def _address(value: Any, field: str) -> str:
    _hex(value, field, 20, "an address")
    return checksum_address(value)


def _bytes32(value: Any, field: str) -> bytes:
    return _hex(value, field, 32, "32 bytes")
