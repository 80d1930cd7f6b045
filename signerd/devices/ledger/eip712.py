"""EIP-712 for the Ledger Ethereum app's full mode: struct definitions and field values as APDUs.

ethapp.adoc "EIP712 SEND STRUCT DEFINITION / IMPLEMENTATION", with the value encodings of the
app's client (client/src/ledger_app_clients/ethereum/eip712/InputData.py). The app hashes the
values itself and shows them, so every value is checked here against its declared type: a
malformed document fails as a ValidationError before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signerd.devices.ledger.apdu import INS_EIP712_STRUCT_DEF, INS_EIP712_STRUCT_IMPL, apdu
from signerd.errors import ValidationError

_TYPE_CODES = {"int": 1, "uint": 2, "address": 3, "bool": 4, "string": 5, "bytes": 6}


@dataclass(frozen=True)
class _FieldType:
    base: str  # "uint", "bytes", "address", ... or a struct name
    code: int  # TypeDesc low nibble; 0 = struct, 7 = dynamic bytes
    size: int | None  # bytes
    levels: tuple[int | None, ...]


def _parse_type(type_name: str, structs: dict[str, Any]) -> _FieldType:
    levels: list[int | None] = []
    base = type_name
    while base.endswith("]"):
        base, _, inner = base[:-1].rpartition("[")
        levels.insert(0, int(inner) if inner else None)
    if base in structs:
        return _FieldType(base, 0, None, tuple(levels))
    stem = base.rstrip("0123456789")
    digits = base[len(stem) :]
    if stem not in _TYPE_CODES:
        raise ValidationError("typed_data.types", f"unknown type {type_name!r}")
    if stem in ("int", "uint"):
        bits = int(digits or "256")
        if bits % 8 or not 8 <= bits <= 256:
            raise ValidationError("typed_data.types", f"bad integer type {type_name!r}")
        return _FieldType(stem, _TYPE_CODES[stem], bits // 8, tuple(levels))
    if stem == "bytes":
        if not digits:
            return _FieldType("bytes", 7, None, tuple(levels))
        return _FieldType("bytes", 6, int(digits), tuple(levels))
    if digits:
        raise ValidationError("typed_data.types", f"unknown type {type_name!r}")
    return _FieldType(stem, _TYPE_CODES[stem], None, tuple(levels))


def _field_definition(name: str, ftype: _FieldType) -> bytes:
    desc = ftype.code | (0x80 if ftype.levels else 0) | (0x40 if ftype.size is not None else 0)
    out = bytearray([desc])
    if ftype.code == 0:
        out += bytes([len(ftype.base)]) + ftype.base.encode()
    if ftype.size is not None:
        out.append(ftype.size)
    if ftype.levels:
        out.append(len(ftype.levels))
        for level in ftype.levels:
            out += b"\x00" if level is None else bytes([1, level])
    out += bytes([len(name)]) + name.encode()
    return bytes(out)


def _hex_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise ValidationError(where, "expected 0x-prefixed hex")


def _encode_value(ftype: _FieldType, value: Any, where: str) -> bytes:
    """The raw value the app expects (InputData.py's encode_*)."""
    if ftype.base in ("int", "uint"):
        if isinstance(value, bool):
            raise ValidationError(where, "expected an integer")
        try:
            number = int(value, 0) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise ValidationError(where, "expected an integer") from None
        assert ftype.size is not None
        bits = ftype.size * 8
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if ftype.base == "int" else (0, 1 << bits)
        if not low <= number < high:
            raise ValidationError(where, f"out of range for {ftype.base}{bits}")
        raw = (number % (1 << bits)).to_bytes(ftype.size, "big").lstrip(b"\0")
        return raw or b"\0"
    if ftype.base == "address":
        raw = _hex_bytes(value, where)
        if len(raw) != 20:
            raise ValidationError(where, "an address is 20 bytes")
        return raw
    if ftype.base == "bool":
        if not isinstance(value, bool):
            raise ValidationError(where, "expected true or false")
        return b"\x01" if value else b"\x00"
    if ftype.base == "string":
        if not isinstance(value, str):
            raise ValidationError(where, "expected a string")
        return value.encode()
    raw = _hex_bytes(value, where)
    if ftype.size is not None and len(raw) > ftype.size:
        raise ValidationError(where, f"more than {ftype.size} bytes")
    return raw


def _value_apdus(raw: bytes) -> list[bytes]:
    """A value with its 2-byte length, in 255-byte chunks; P1=0x01 on all but the last."""
    if len(raw) > 0xFFFF:
        raise ValidationError("typed_data", "value too long")
    data = len(raw).to_bytes(2, "big") + raw
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
    return [
        apdu(INS_EIP712_STRUCT_IMPL, 0x00 if n == len(chunks) - 1 else 0x01, 0xFF, chunk)
        for n, chunk in enumerate(chunks)
    ]


def _domain_types(domain: dict[str, Any]) -> list[dict[str, str]]:
    """EIP712Domain's fields from the domain's keys, as eth-account derives them."""
    known = [
        ("name", "string"),
        ("version", "string"),
        ("chainId", "uint256"),
        ("verifyingContract", "address"),
        ("salt", "bytes32"),
    ]
    return [{"name": n, "type": t} for n, t in known if n in domain]


def typed_data_apdus(typed_data: dict[str, Any]) -> tuple[list[bytes], list[bytes]]:
    """(definition APDUs, implementation APDUs) for an EIP-712 document."""
    try:
        types = dict(typed_data["types"])
        domain = typed_data["domain"]
        message = typed_data["message"]
        primary = typed_data["primaryType"]
    except (KeyError, TypeError) as exc:
        raise ValidationError("typed_data", f"missing {exc}") from None
    types.setdefault("EIP712Domain", _domain_types(domain))
    if primary not in types:
        raise ValidationError("typed_data.primaryType", f"{primary!r} is not in types")
    parsed: dict[str, list[tuple[str, _FieldType]]] = {}
    definitions: list[bytes] = []
    for name, fields in types.items():
        definitions.append(apdu(INS_EIP712_STRUCT_DEF, 0x00, 0x00, name.encode()))
        parsed[name] = []
        for f in fields:
            ftype = _parse_type(f["type"], types)
            parsed[name].append((f["name"], ftype))
            definitions.append(
                apdu(INS_EIP712_STRUCT_DEF, 0x00, 0xFF, _field_definition(f["name"], ftype))
            )

    implementation: list[bytes] = []

    def send_struct(struct: str, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ValidationError(where, f"expected a {struct} object")
        for key, ftype in parsed[struct]:
            if key not in value:
                raise ValidationError(f"{where}.{key}", "missing")
            send_field(ftype, len(ftype.levels), value[key], f"{where}.{key}")

    def send_field(ftype: _FieldType, levels_left: int, value: Any, where: str) -> None:
        if levels_left:
            if not isinstance(value, list) or len(value) > 255:
                raise ValidationError(where, "expected an array of at most 255 items")
            # "T[2][]" lists levels inner to outer: the outermost array is the last one.
            fixed = ftype.levels[levels_left - 1]
            if fixed is not None and fixed != len(value):
                raise ValidationError(where, f"expected {fixed} items")
            implementation.append(apdu(INS_EIP712_STRUCT_IMPL, 0x00, 0x0F, bytes([len(value)])))
            for i, item in enumerate(value):
                send_field(ftype, levels_left - 1, item, f"{where}.{i}")
        elif ftype.code == 0:
            send_struct(ftype.base, value, where)
        else:
            implementation.extend(_value_apdus(_encode_value(ftype, value, where)))

    implementation.append(apdu(INS_EIP712_STRUCT_IMPL, 0x00, 0x00, b"EIP712Domain"))
    send_struct("EIP712Domain", domain, "typed_data.domain")
    implementation.append(apdu(INS_EIP712_STRUCT_IMPL, 0x00, 0x00, primary.encode()))
    send_struct(primary, message, "typed_data.message")
    return definitions, implementation
