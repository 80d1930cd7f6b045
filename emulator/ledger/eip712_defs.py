"""EIP-712 struct definitions as the Ledger Ethereum app receives them (E0 1A).

Mirrors app-ethereum's src_features/signMessageEIP712 typed_data.c (the field definition
layout, TypeDesc's nibbles), format_hash_field_type.c (a field's Solidity type name) and
type_hash.c (encodeType over the structs a root reaches). Pure data, no I/O: the streaming
session (`eip712.py`) keeps the definitions and hashes values against them; anything the
app would refuse raises `Eip712Error` with the status word it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_utils.crypto import keccak

# ledger-secure-sdk include/status_words.h names, as app-ethereum uses them.
SW_INVALID_DATA = 0x6A80  # SWO_INCORRECT_DATA
SW_ERROR_NO_INFO = 0x6A00  # SWO_PARAMETER_ERROR_NO_INFO: apdu_reply's default on failure
SW_INVALID_P1_P2 = 0x6B00  # SWO_WRONG_P1_P2

DOMAIN_STRUCT = "EIP712Domain"


class Eip712Error(Exception):
    """The APDU is refused with ``sw``; the app drops the whole EIP-712 context."""

    def __init__(self, sw: int, reason: str) -> None:
        super().__init__(f"0x{sw:04X}: {reason}")
        self.sw = sw
        self.reason = reason


class FieldType(IntEnum):
    """TypeDesc's low nibble (ethapp.adoc, EIP712 SEND STRUCT DEFINITION).

    typed_data.c set_struct_field_typedesc stores any nibble; one with no Solidity name
    (UNKNOWN here) is refused only when a type hash needs its name (sol_typenames.c,
    at E0 1C's root).
    """

    UNKNOWN = -1
    CUSTOM = 0
    INT = 1
    UINT = 2
    ADDRESS = 3
    BOOL = 4
    STRING = 5
    FIX_BYTES = 6
    DYN_BYTES = 7


@dataclass(frozen=True)
class FieldDef:
    key: str
    type: FieldType
    struct_name: str | None  # only for CUSTOM
    size: int | None  # bytes, for int/uint/bytesN
    array_levels: tuple[int | None, ...]  # None = dynamic level, N = fixed size N

    @property
    def base_type_name(self) -> str:
        if self.type is FieldType.CUSTOM:
            assert self.struct_name is not None
            return self.struct_name
        # format_hash_field_type.c: the size as given, 0 when the definition had none.
        size = self.size or 0
        names = {
            FieldType.INT: f"int{size * 8}",
            FieldType.UINT: f"uint{size * 8}",
            FieldType.ADDRESS: "address",
            FieldType.BOOL: "bool",
            FieldType.STRING: "string",
            FieldType.FIX_BYTES: f"bytes{size}",
            FieldType.DYN_BYTES: "bytes",
        }
        if self.type not in names:
            raise Eip712Error(SW_INVALID_DATA, f"no Solidity name for field {self.key!r}")
        return names[self.type]

    @property
    def type_name(self) -> str:
        levels = "".join("[]" if n is None else f"[{n}]" for n in self.array_levels)
        return self.base_type_name + levels


def parse_field_definition(data: bytes) -> FieldDef:
    """Decode an E0 1A P2=FF payload as typed_data.c set_struct_field does.

    Only the layout is checked (every part present, nothing left over, no size on a
    custom type, array levels of kind 0 or 1): the app stores a size on any other type, of
    any value, a sized type without one, any type nibble, an array of no levels and an
    empty key name, and only trips on them later, if at all.
    """
    if not data:
        raise Eip712Error(SW_INVALID_DATA, "empty struct field definition")
    reader = Reader(data)
    desc = reader.byte()
    is_array = bool(desc & 0x80)
    has_size = bool(desc & 0x40)
    try:
        ftype = FieldType(desc & 0x0F)
    except ValueError:
        ftype = FieldType.UNKNOWN
    struct_name = None
    size = None
    if has_size:
        if ftype is FieldType.CUSTOM:
            raise Eip712Error(SW_INVALID_DATA, "a custom type has no type size")
        size = reader.byte()
    elif ftype is FieldType.CUSTOM:
        struct_name = reader.text(reader.byte())
    levels: list[int | None] = []
    if is_array:
        for _ in range(reader.byte()):
            kind = reader.byte()
            if kind == 0:
                levels.append(None)
            elif kind == 1:
                levels.append(reader.byte())
            else:
                raise Eip712Error(SW_INVALID_DATA, f"bad array level kind {kind}")
    key = reader.text(reader.byte())
    if not reader.done:
        raise Eip712Error(SW_INVALID_DATA, "trailing bytes after the key name")
    return FieldDef(key, ftype, struct_name, size, tuple(levels))


class Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def done(self) -> bool:
        return self._pos == len(self._data)

    def take(self, n: int) -> bytes:
        if self._pos + n > len(self._data):
            raise Eip712Error(SW_INVALID_DATA, "payload too short")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def text(self, n: int) -> str:
        # The app copies name bytes as they come (memmove); latin-1 keeps every byte.
        return self.take(n).decode("latin-1")


def check_types_resolve(structs: dict[str, list[FieldDef]], root: str) -> None:
    """type_hash.c: every type the root reaches has a name (else SWO_INCORRECT_DATA)."""
    seen: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for fdef in structs[name]:
            if fdef.type is FieldType.CUSTOM:
                if fdef.struct_name not in structs:
                    raise Eip712Error(
                        SW_INVALID_DATA, f"{name}.{fdef.key} uses undefined {fdef.struct_name}"
                    )
                pending.append(fdef.struct_name)
            fdef.type_name  # noqa: B018 - raises for a type nibble with no name


def encode_type(structs: dict[str, list[FieldDef]], name: str) -> str:
    deps: set[str] = set()
    _collect_deps(structs, name, deps)
    deps.discard(name)
    return "".join(_struct_signature(structs, n) for n in [name, *sorted(deps)])


def type_hash(structs: dict[str, list[FieldDef]], name: str) -> bytes:
    return keccak(text=encode_type(structs, name))


def _struct_signature(structs: dict[str, list[FieldDef]], name: str) -> str:
    body = ",".join(f"{f.type_name} {f.key}" for f in structs[name])
    return f"{name}({body})"


def _collect_deps(structs: dict[str, list[FieldDef]], name: str, seen: set[str]) -> None:
    if name in seen:
        return
    seen.add(name)
    for fdef in structs[name]:
        if fdef.type is FieldType.CUSTOM and fdef.struct_name is not None:
            _collect_deps(structs, fdef.struct_name, seen)
