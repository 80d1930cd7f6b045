"""The Ethereum app's EIP-712 "full implementation": struct definitions and streamed values.

Mirrors app-ethereum's src_features/signMessageEIP712 (commands_712.c, field_hash.c,
path.c, type_hash.c): the host sends every struct definition (E0 1A), then the domain and
the message value by value (E0 1C), and the app hashes them as they arrive. Nothing here
sees the JSON: the hashes are rebuilt from the APDU stream alone, so a test that compares
the resulting signature with eth-account's proves the stream is complete and correct.

Pure data handling, no I/O: `Eip712Session` answers each APDU payload with the items the
device would show (struct headers and formatted fields) or raises `Eip712Error` carrying
the status word the app would return.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

# ledger-secure-sdk include/status_words.h names, as app-ethereum uses them.
SW_INVALID_DATA = 0x6A80  # SWO_INCORRECT_DATA
SW_ERROR_NO_INFO = 0x6A00  # SWO_PARAMETER_ERROR_NO_INFO: apdu_reply's default on failure
SW_INVALID_P1_P2 = 0x6B00  # SWO_WRONG_P1_P2

DOMAIN_STRUCT = "EIP712Domain"

# What the app shows of a value: strings are cut at 100 characters with "..." (ui_logic.c
# truncates to its display buffer), titles at 40.
MAX_VALUE_CHARS = 100
MAX_TITLE_CHARS = 40


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


_DYNAMIC = {FieldType.STRING, FieldType.DYN_BYTES}


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
    reader = _Reader(data)
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


class _Reader:
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


@dataclass(frozen=True)
class ShownStruct:
    """A struct entered: its type name; `root` for the domain and the message themselves."""

    name: str
    root: bool = False


@dataclass(frozen=True)
class ShownField:
    """One field screen: key name (title) and the formatted value."""

    key: str
    value: str


Shown = ShownStruct | ShownField


@dataclass
class _StructFrame:
    name: str
    fields: list[FieldDef]
    index: int = 0
    encoded: list[bytes] = field(default_factory=list)
    entered_array: bool = False


@dataclass
class _ArrayFrame:
    field_def: FieldDef
    level: int  # depth: 0 for the outermost array
    size: int
    items: list[bytes] = field(default_factory=list)


class Eip712Session:
    """One EIP-712 context: definitions, then the domain and message implementations."""

    def __init__(self) -> None:
        self.structs: dict[str, list[FieldDef]] = {}
        self._current_def: str | None = None
        self._defined: set[str] = set()
        self._duplicate = False
        self._root_type: str | None = None  # path.c root_type: None, "domain", "message"
        self._implementing = False
        self._stack: list[_StructFrame | _ArrayFrame] = []
        self._root: str | None = None
        self.domain_hash: bytes | None = None
        self.message_hash: bytes | None = None
        self.primary_type: str | None = None
        # Partial (multi-APDU) value being received: total length and bytes so far.
        self._pending_len: int | None = None
        self._pending: bytearray = bytearray()

    # -- definitions (E0 1A) ---------------------------------------------------------------

    def define_struct(self, name_bytes: bytes) -> None:
        # commands_712.c handle_eip712_struct_def: struct_state DEFINED (a root was set)
        # fails without setting a code, so apdu_reply answers SWO_PARAMETER_ERROR_NO_INFO.
        if self._implementing:
            raise Eip712Error(SW_ERROR_NO_INFO, "definitions are closed once values stream")
        # set_struct_name: no data (Lc 0) is SWO_INCORRECT_DATA; a name already defined is
        # appended again, and lookups (get_structn) find the first one.
        if not name_bytes:
            raise Eip712Error(SW_INVALID_DATA, "struct name missing")
        name = _Reader(name_bytes).text(len(name_bytes))
        self.structs.setdefault(name, [])
        self._current_def = name
        self._duplicate = name in self._defined
        self._defined.add(name)

    def define_field(self, data: bytes) -> None:
        if self._implementing:
            raise Eip712Error(SW_ERROR_NO_INFO, "definitions are closed once values stream")
        # set_struct_field: no struct yet (g_structs NULL) is SWO_INCORRECT_DATA.
        if self._current_def is None:
            raise Eip712Error(SW_INVALID_DATA, "field before any struct name")
        field_def = parse_field_definition(data)
        if not self._duplicate:  # a duplicate's fields go to a struct nobody looks up
            self.structs[self._current_def].append(field_def)

    # -- implementation (E0 1C) ------------------------------------------------------------

    @property
    def in_root(self) -> str | None:
        """The root struct being implemented (None between roots)."""
        return self._root if self._stack else None

    def set_root(self, name_bytes: bytes) -> list[Shown]:
        """path.c path_set_root: the domain first, then the message, each once."""
        name = _Reader(name_bytes).text(len(name_bytes))
        if name not in self.structs:  # get_structn: SWO_INCORRECT_DATA
            raise Eip712Error(SW_INVALID_DATA, f"root struct {name!r} was not defined")
        if name == self._root:
            raise Eip712Error(SW_ERROR_NO_INFO, f"{name} is already the root")
        self._check_types_resolve(name)
        # The root_type checks fail without a code: SWO_PARAMETER_ERROR_NO_INFO.
        if name == DOMAIN_STRUCT:
            if self._root_type is not None:
                raise Eip712Error(SW_ERROR_NO_INFO, "the domain comes first, once")
            self._root_type = "domain"
        else:
            if self._root_type != "domain":
                raise Eip712Error(SW_ERROR_NO_INFO, "the message comes after the domain")
            self._root_type = "message"
        # A root left unfinished is dropped: its hash stays unset and the sign APDU fails.
        self._stack = []
        self._abort_pending()
        self._implementing = True
        self._root = name
        if name != DOMAIN_STRUCT:
            self.primary_type = name
        self._stack.append(_StructFrame(name, self.structs[name]))
        shown: list[Shown] = [ShownStruct(name, root=True)]
        self._settle(shown)
        return shown

    def array_size(self, data: bytes) -> list[Shown]:
        if len(data) != 1:
            raise Eip712Error(SW_INVALID_DATA, "array size is one byte")
        want = self._need()
        if want != "array":  # path_new_array_depth: SWO_INCORRECT_DATA
            raise Eip712Error(SW_INVALID_DATA, "no array expected here")
        top = self._stack[-1]
        if isinstance(top, _StructFrame):
            fdef = top.fields[top.index]
            top.entered_array = True
            level = 0
        else:
            fdef = top.field_def
            level = top.level + 1
        # Levels are written inner to outer ("T[2][]"): depth 0 is the last one.
        fixed = fdef.array_levels[len(fdef.array_levels) - 1 - level]
        if fixed is not None and fixed != data[0]:
            raise Eip712Error(SW_INVALID_DATA, f"array of {data[0]} for {fdef.type_name}")
        self._stack.append(_ArrayFrame(fdef, level, data[0]))
        shown: list[Shown] = []
        self._settle(shown)
        return shown

    def field_value(self, data: bytes, partial: bool) -> list[Shown]:
        """A (chunk of a) value; returns what is shown once the value is complete."""
        if self._need() != "field":  # field_hash: path_get_field() NULL, SWO_INCORRECT_DATA
            raise Eip712Error(SW_INVALID_DATA, "no field value expected here")
        fdef = self._current_field()
        if self._pending_len is None:
            if len(data) < 2:
                raise Eip712Error(SW_INVALID_DATA, "value length missing")
            self._pending_len = int.from_bytes(data[:2], "big")
            self._pending = bytearray()
            data = data[2:]
        self._pending += data
        if len(self._pending) > self._pending_len:
            self._abort_pending()
            raise Eip712Error(SW_INVALID_DATA, "value longer than announced")
        if len(self._pending) < self._pending_len:
            # Only dynamic types may span APDUs, and then the APDU must say "partial".
            if not partial or fdef.type not in _DYNAMIC:
                self._abort_pending()
                raise Eip712Error(SW_INVALID_DATA, "value shorter than announced")
            return []
        if partial:
            self._abort_pending()
            raise Eip712Error(SW_INVALID_DATA, "complete value marked partial")
        value = bytes(self._pending)
        self._abort_pending()
        encoded, text = _encode_value(fdef, value)
        shown: list[Shown] = [ShownField(fdef.key[:MAX_TITLE_CHARS], text)]
        self._deliver(encoded)
        self._settle(shown)
        return shown

    def _abort_pending(self) -> None:
        self._pending_len = None
        self._pending = bytearray()

    def _current_field(self) -> FieldDef:
        top = self._stack[-1]
        return top.fields[top.index] if isinstance(top, _StructFrame) else top.field_def

    def _need(self) -> str | None:
        """What the next APDU must bring: "field", "array", or None (no root open)."""
        if not self._stack:
            return None
        top = self._stack[-1]
        if isinstance(top, _StructFrame):
            fdef = top.fields[top.index]
            if fdef.array_levels and not top.entered_array:
                return "array"
            return "field"
        if top.level + 1 < len(top.field_def.array_levels):
            return "array"
        return "field"

    def _settle(self, shown: list[Shown]) -> None:
        """Enter nested structs and close finished frames until a value or size is needed."""
        while self._stack:
            top = self._stack[-1]
            if isinstance(top, _StructFrame):
                if top.index == len(top.fields):
                    self._stack.pop()
                    self._deliver(keccak(self.type_hash(top.name) + b"".join(top.encoded)))
                    continue
                fdef = top.fields[top.index]
                if fdef.type is FieldType.CUSTOM and not fdef.array_levels:
                    assert fdef.struct_name is not None
                    self._stack.append(
                        _StructFrame(fdef.struct_name, self.structs[fdef.struct_name])
                    )
                    shown.append(ShownStruct(fdef.struct_name))
                    continue
                return
            if len(top.items) == top.size:
                self._stack.pop()
                self._deliver(keccak(b"".join(top.items)))
                continue
            fdef = top.field_def
            innermost = top.level + 1 == len(fdef.array_levels)
            if innermost and fdef.type is FieldType.CUSTOM:
                assert fdef.struct_name is not None
                self._stack.append(_StructFrame(fdef.struct_name, self.structs[fdef.struct_name]))
                shown.append(ShownStruct(fdef.struct_name))
                continue
            return

    def _deliver(self, encoded: bytes) -> None:
        """Hand a finished 32-byte encoding to the enclosing frame (or finish the root)."""
        if not self._stack:
            if self._root == DOMAIN_STRUCT:
                self.domain_hash = encoded
            else:
                self.message_hash = encoded
            return
        top = self._stack[-1]
        if isinstance(top, _StructFrame):
            top.encoded.append(encoded)
            top.index += 1
            top.entered_array = False
        else:
            top.items.append(encoded)

    # -- hashing ---------------------------------------------------------------------------

    def _check_types_resolve(self, root: str) -> None:
        """type_hash.c: every type the root reaches has a name (else SWO_INCORRECT_DATA)."""
        seen: set[str] = set()
        pending = [root]
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            for fdef in self.structs[name]:
                if fdef.type is FieldType.CUSTOM:
                    if fdef.struct_name not in self.structs:
                        raise Eip712Error(
                            SW_INVALID_DATA, f"{name}.{fdef.key} uses undefined {fdef.struct_name}"
                        )
                    pending.append(fdef.struct_name)
                fdef.type_name  # noqa: B018 - raises for a type nibble with no name

    def encode_type(self, name: str) -> str:
        deps: set[str] = set()
        self._collect_deps(name, deps)
        deps.discard(name)
        return "".join(self._struct_signature(n) for n in [name, *sorted(deps)])

    def type_hash(self, name: str) -> bytes:
        return keccak(text=self.encode_type(name))

    def _struct_signature(self, name: str) -> str:
        body = ",".join(f"{f.type_name} {f.key}" for f in self.structs[name])
        return f"{name}({body})"

    def _collect_deps(self, name: str, seen: set[str]) -> None:
        if name in seen:
            return
        seen.add(name)
        for fdef in self.structs[name]:
            if fdef.type is FieldType.CUSTOM and fdef.struct_name is not None:
                self._collect_deps(fdef.struct_name, seen)

    def signing_hash(self) -> bytes:
        # handle_eip712_sign: a hash still zero or a field still expected: SWO_INCORRECT_DATA.
        if self.domain_hash is None or self.message_hash is None or self._stack:
            raise Eip712Error(SW_INVALID_DATA, "domain or message not complete")
        return keccak(b"\x19\x01" + self.domain_hash + self.message_hash)


def _encode_value(fdef: FieldDef, value: bytes) -> tuple[bytes, str]:
    """(32-byte EIP-712 encoding, text the device shows) of a raw value, as field_hash.c."""
    t = fdef.type
    if t is FieldType.STRING:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise Eip712Error(SW_INVALID_DATA, "string is not UTF-8") from None
        return keccak(value), _cut(text)
    if t is FieldType.DYN_BYTES:
        return keccak(value), _cut("0x" + value.hex())
    # encode_field.c: numbers and fixed bytes up to 32 bytes whatever the declared size;
    # an int is sign-extended only when it comes at its full size.
    if len(value) > 32:
        raise Eip712Error(SW_INVALID_DATA, f"{len(value)}-byte value for {fdef.type_name}")
    if t is FieldType.UINT:
        return value.rjust(32, b"\0"), str(int.from_bytes(value, "big"))
    if t is FieldType.INT:
        if not value:
            raise Eip712Error(SW_INVALID_DATA, f"empty value for {fdef.type_name}")
        negative = len(value) == (fdef.size or 0) and value[0] & 0x80
        encoded = value.rjust(32, b"\xff" if negative else b"\0")
        return encoded, str(int.from_bytes(encoded, "big", signed=True))
    if t is FieldType.ADDRESS:
        if len(value) != 20:
            raise Eip712Error(SW_INVALID_DATA, "address must be 20 bytes")
        return value.rjust(32, b"\0"), to_checksum_address(value)
    if t is FieldType.BOOL:
        if len(value) != 1:
            raise Eip712Error(SW_INVALID_DATA, "bool must be one byte")
        return value.rjust(32, b"\0"), "true" if value[0] else "false"
    if t is FieldType.FIX_BYTES:
        return value.ljust(32, b"\0"), _cut("0x" + value.hex())
    raise Eip712Error(SW_INVALID_DATA, "a struct has no raw value")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."
