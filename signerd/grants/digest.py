"""The EIP-712 digest of a grant: hashStruct written out for the two fixed grant schemas.

The digest doubles as the grant's id. eth-account's general encoder (encode_typed_data) walks
the types through eth-abi on every call and took three quarters of the time of verifying a
grant; here each schema's member encoders are worked out once from its type strings, and a
version 2 document whose values all have their plain form (exact ints, strings and lists, as
rendering and verification produce them) takes a straight-line path whose recurring parts
(allowances, address lists, domains, strings) are cached. Any other value goes the validating
way, which names the first one that cannot be encoded. The tests check both ways against
eth-account's encoder on generated documents of both versions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from sha3 import keccak_256

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.schema import DOMAIN_VERSION, PRIMARY_TYPE, TYPES
from signerd.grants.v1 import DOMAIN_VERSION_V1, TYPES_V1

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_UINT8: Final = 1 << 8
_UINT64: Final = 1 << 64
_UINT256: Final = 1 << 256


def keccak(data: bytes) -> bytes:
    """Keccak-256 from safe-pysha3's C extension: pycryptodome's Python wrapper costs ~8 us a
    call (eth-hash's adds as much again), and a grant's digest takes a dozen calls."""
    return bytes(keccak_256(data).digest())


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
    return schema_digest(version, typed_data.get("domain"), typed_data.get("message"))


def schema_digest(version: str, domain: Any, message: Any) -> bytes:
    """``grant_digest`` of a document whose types are known to be ``version``'s grant types
    (DOMAIN_VERSION or DOMAIN_VERSION_V1) and whose primary type is PRIMARY_TYPE."""
    if version == DOMAIN_VERSION:
        plain = _plain_v2(domain, message)
        if plain is not None:
            return plain
    domain_hash = _struct(version, "EIP712Domain").hash(domain, "typedData.domain")
    message_hash = _struct(version, PRIMARY_TYPE).hash(message, "typedData.message")
    return keccak(b"\x19\x01" + domain_hash + message_hash)


_SCHEMAS: Final = {DOMAIN_VERSION: TYPES, DOMAIN_VERSION_V1: TYPES_V1}
_PADDING: Final = bytes(12)

# One word of encodeData: (the value, the path of its parent, its key there) -> 32 bytes. The
# path is only built when a value is refused: most values are fine, and joining strings for
# each of a grant's thirty-odd values was a fifth of its digest's cost.
_Encoder = Callable[[Any, str, "str | int"], bytes]


@functools.lru_cache(maxsize=4096)
def _string_hash(value: str) -> bytes:
    """keccak of a string value: cached, as a grant's summary is hashed twice (domain name and
    first field) and symbols and agents recur across grants."""
    return keccak(value.encode("utf-8"))


@functools.lru_cache(maxsize=8192)
def _address_word(value: str) -> bytes | None:
    """The word of an address string, or None if it is not one (cached: addresses recur)."""
    if not _HEX_ADDRESS.fullmatch(value):
        return None
    return _PADDING + bytes.fromhex(value[2:])


def _encode_address(value: Any, parent: str, key: str | int) -> bytes:
    word = _address_word(value) if isinstance(value, str) else None
    if word is None:
        raise ValidationError(
            fields.path(parent, key), "must be 0x followed by 40 hexadecimal digits"
        )
    return word


def _encode_string(value: Any, parent: str, key: str | int) -> bytes:
    if not isinstance(value, str):
        raise ValidationError(fields.path(parent, key), "must be a string")
    return _string_hash(value)


def _uint_encoder(bits: int) -> _Encoder:
    limit = 1 << bits

    def encode(value: Any, parent: str, key: str | int) -> bytes:
        # bool is an int subclass; `type(...) is int` is the cheap test for the usual value.
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError(
                fields.path(parent, key), f"must be an integer from 0 to 2**{bits} - 1"
            )
        if not 0 <= value < limit:
            raise ValidationError(
                fields.path(parent, key), f"must be an integer from 0 to 2**{bits} - 1"
            )
        return bytes(value.to_bytes(32, "big"))

    return encode


def _array_encoder(item: _Encoder) -> _Encoder:
    def encode(value: Any, parent: str, key: str | int) -> bytes:
        where = fields.path(parent, key)
        if not isinstance(value, list | tuple):
            raise ValidationError(where, "must be an array")
        return keccak(
            b"".join([item(element, where, index) for index, element in enumerate(value)])
        )

    return encode


class _Struct:
    """hashStruct of one struct type of a schema: its type hash and one encoder per member,
    worked out once from the type strings instead of at every value."""

    def __init__(self, version: str, name: str) -> None:
        self.version = version
        self.name = name
        self.type_hash = _type_hash(version, name)
        self.members: list[tuple[str, _Encoder]] = []

    def hash(self, value: Any, where: str) -> bytes:
        if not isinstance(value, Mapping):
            raise ValidationError(where, "must be an object")
        parts = [self.type_hash]
        for key, encode in self.members:
            if key not in value:
                raise ValidationError(fields.path(where, key), "is required")
            parts.append(encode(value[key], where, key))
        return keccak(b"".join(parts))

    def encode(self, value: Any, parent: str, key: str | int) -> bytes:
        return self.hash(value, fields.path(parent, key))


@functools.cache
def _struct(version: str, name: str) -> _Struct:
    struct = _Struct(version, name)
    struct.members = [
        (field["name"], _encoder(version, field["type"])) for field in _SCHEMAS[version][name]
    ]
    return struct


def _encoder(version: str, type_name: str) -> _Encoder:
    """The encoder of one member type: the types the grant schemas use, nothing else."""
    if type_name == "address":
        return _encode_address
    if type_name == "string":
        return _encode_string
    if type_name.startswith("uint"):
        return _uint_encoder(int(type_name[4:]))
    if type_name.endswith("[]"):
        return _array_encoder(_encoder(version, type_name[:-2]))
    return _struct(version, type_name).encode


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


def _uint(value: Any, limit: int) -> bool:
    """Whether ``value`` is an exact int (not a bool, not an int subclass) below ``limit``."""
    return type(value) is int and 0 <= value < limit


def _plain_v2(domain: Any, message: Any) -> bytes | None:
    """The version 2 digest when every value has its plain form, else None."""
    if type(domain) is not dict or type(message) is not dict:
        return None
    try:
        name, version, chain_id = domain["name"], domain["version"], domain["chainId"]
        summary, agent = message["summary"], message["agent"]
        account, session_key = message["account"], message["sessionKey"]
        allowances, payees, targets = message["allowances"], message["payees"], message["targets"]
        after, until, nonce = message["validAfter"], message["validUntil"], message["nonce"]
    except KeyError:
        return None
    if (
        type(name) is not str
        or type(version) is not str
        or type(summary) is not str
        or type(agent) is not str
        or type(account) is not str
        or type(session_key) is not str
        or type(allowances) is not list
        or not _uint(chain_id, _UINT256)
        or not _uint(after, _UINT64)
        or not _uint(until, _UINT64)
        or not _uint(nonce, _UINT256)
    ):
        return None
    account_word, session_word = _address_word(account), _address_word(session_key)
    hashed_allowances = [_plain_allowance(allowance) for allowance in allowances]
    payees_hash, targets_hash = _plain_addresses(payees), _plain_addresses(targets)
    if (
        account_word is None
        or session_word is None
        or None in hashed_allowances
        or payees_hash is None
        or targets_hash is None
    ):
        return None
    message_hash = keccak(
        b"".join(
            (
                _GRANT_TYPE_HASH,
                _string_hash(summary),
                _string_hash(agent),
                account_word,
                session_word,
                keccak(b"".join(hashed_allowances)),  # type: ignore[arg-type]  # no None
                payees_hash,
                targets_hash,
                after.to_bytes(32, "big"),
                until.to_bytes(32, "big"),
                nonce.to_bytes(32, "big"),
            )
        )
    )
    return keccak(b"\x19\x01" + _domain_v2(name, version, chain_id) + message_hash)


@functools.lru_cache(maxsize=1024)
def _domain_v2(name: str, version: str, chain_id: int) -> bytes:
    """The domain separator (cached: arguments of exact types, so 1 and True never meet)."""
    return keccak(
        _type_hash(DOMAIN_VERSION, "EIP712Domain")
        + _string_hash(name)
        + _string_hash(version)
        + chain_id.to_bytes(32, "big")
    )


def _plain_allowance(value: Any) -> bytes | None:
    if type(value) is not dict:
        return None
    try:
        key = (
            value["token"],
            value["symbol"],
            value["decimals"],
            value["amount"],
            value["period"],
            value["maxPerPayment"],
        )
    except KeyError:
        return None
    token, symbol, decimals, amount, period, max_per_payment = key
    if (
        type(token) is not str
        or type(symbol) is not str
        or not _uint(decimals, _UINT8)
        or not _uint(amount, _UINT256)
        or not _uint(period, _UINT64)
        or not _uint(max_per_payment, _UINT256)
    ):
        return None
    return _allowance_hash(*key)


@functools.lru_cache(maxsize=1024)
def _allowance_hash(
    token: str, symbol: str, decimals: int, amount: int, period: int, max_per_payment: int
) -> bytes | None:
    """hashStruct(Allowance) of exactly-typed, in-range values (cached: allowances recur)."""
    token_word = _address_word(token)
    if token_word is None:
        return None
    return keccak(
        _type_hash(DOMAIN_VERSION, "Allowance")
        + token_word
        + _string_hash(symbol)
        + decimals.to_bytes(32, "big")
        + amount.to_bytes(32, "big")
        + period.to_bytes(32, "big")
        + max_per_payment.to_bytes(32, "big")
    )


def _plain_addresses(value: Any) -> bytes | None:
    if type(value) is not list:
        return None
    addresses = tuple(value)
    for address in addresses:
        if type(address) is not str:
            return None
    return _addresses_hash(addresses)


@functools.lru_cache(maxsize=1024)
def _addresses_hash(addresses: tuple[str, ...]) -> bytes | None:
    """keccak of an address[]'s words, or None if one is not an address (cached: recur)."""
    words = [_address_word(address) for address in addresses]
    if None in words:
        return None
    return keccak(b"".join(words))  # type: ignore[arg-type]  # no None


_GRANT_TYPE_HASH: Final = _type_hash(DOMAIN_VERSION, PRIMARY_TYPE)
