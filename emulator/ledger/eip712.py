"""The Ethereum app's EIP-712 "full implementation": struct definitions and streamed values.

Mirrors app-ethereum's src_features/signMessageEIP712 (commands_712.c, field_hash.c,
path.c, type_hash.c): the host sends every struct definition (E0 1A), then the domain and
the message value by value (E0 1C), and the app hashes them as they arrive. Nothing here
sees the JSON: the hashes are rebuilt from the APDU stream alone, so a test that compares
the resulting signature with eth-account's proves the stream is complete and correct.

Pure data handling, no I/O: `Eip712Session` answers each APDU payload with the items the
device would show (struct headers and formatted fields) or raises `Eip712Error` carrying
the status word the app would return. The definitions and their type hashes are in
`eip712_defs.py`, the encoding and display of one value in `eip712_values.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils.crypto import keccak

from emulator.ledger.eip712_defs import (
    DOMAIN_STRUCT,
    SW_ERROR_NO_INFO,
    SW_INVALID_DATA,
    Eip712Error,
    FieldDef,
    FieldType,
    Reader,
    check_types_resolve,
    parse_field_definition,
    type_hash,
)
from emulator.ledger.eip712_values import (
    MAX_TITLE_CHARS,
    Shown,
    ShownField,
    ShownStruct,
    encode_value,
)

_DYNAMIC = {FieldType.STRING, FieldType.DYN_BYTES}


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
        name = Reader(name_bytes).text(len(name_bytes))
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
        name = Reader(name_bytes).text(len(name_bytes))
        if name not in self.structs:  # get_structn: SWO_INCORRECT_DATA
            raise Eip712Error(SW_INVALID_DATA, f"root struct {name!r} was not defined")
        if name == self._root:
            raise Eip712Error(SW_ERROR_NO_INFO, f"{name} is already the root")
        check_types_resolve(self.structs, name)
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
        encoded, text = encode_value(fdef, value)
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

    def type_hash(self, name: str) -> bytes:
        return type_hash(self.structs, name)

    def signing_hash(self) -> bytes:
        # handle_eip712_sign: a hash still zero or a field still expected: SWO_INCORRECT_DATA.
        if self.domain_hash is None or self.message_hash is None or self._stack:
            raise Eip712Error(SW_INVALID_DATA, "domain or message not complete")
        return keccak(b"\x19\x01" + self.domain_hash + self.message_hash)
