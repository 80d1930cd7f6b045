"""The firmware's streaming EIP-712 hasher, ported from core/src/apps/ethereum/sign_typed_data.py
at tag core/v2.12.4 (the domain confirmed on one screen, never behind "Show full domain").

The host never sends the document: the device asks for each struct definition
(EthereumTypedDataStructRequest) and each value by member path (EthereumTypedDataValueRequest;
[0, …] the domain, [1, …] the message; a dynamic array's length first as uint16), and hashes
what it received. Order of requests, screens and validation errors follow the firmware, so a
host that works here works against the device.
"""

from __future__ import annotations

from typing import Protocol

from eth_utils.crypto import keccak
from trezorlib import messages

from emulator.trezor import layouts
from emulator.trezor.layouts import Screen
from emulator.trezor.wire import WireFailure, data_error

EDT = messages.EthereumDataType


class TypedDataHost(Protocol):
    """What the hasher needs from the device: the wire and the screen."""

    def request_struct(self, name: str) -> list[messages.EthereumStructMember]: ...

    def request_value(self, member_path: list[int]) -> bytes: ...

    def confirm(self, screen: Screen) -> None:
        """Show the screen; return when confirmed (rejection raises)."""

    def should_show_more(self, screen: Screen) -> bool:
        """Show a "Show full …" screen; True if the person opened the details."""


def generate_typed_data_hash(
    host: TypedDataHost,
    primary_type: str,
    metamask_v4_compat: bool = True,
    show_message_hash: bytes | None = None,
) -> bytes:
    """keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message)), streaming as the firmware."""
    envelope = TypedDataEnvelope(host, primary_type, metamask_v4_compat)
    envelope.collect_types()

    # v2.12.3+ (sign_typed_data.py lines 96-102): the domain is always shown, not asked.
    domain_separator = envelope.hash_struct("EIP712Domain", [0], True, ["EIP712Domain"])

    # primaryType "EIP712Domain" signs the domain alone (EIP-712 clarification, as firmware).
    if primary_type == "EIP712Domain":
        host.confirm(layouts.confirm_empty_typed_message())
        message_hash = b""
    else:
        show_message = host.should_show_more(
            layouts.should_show_struct(
                primary_type,
                [m.name for m in envelope.types[primary_type]],
                "Confirm message",
                "Show full message",
            )
        )
        message_hash = envelope.hash_struct(primary_type, [1], show_message, [primary_type])

    if show_message_hash is not None:
        if message_hash != bytes(show_message_hash):
            raise data_error("Message hash mismatch")
        host.confirm(layouts.confirm_message_hash(message_hash))

    host.confirm(layouts.confirm_typed_data_final())
    return bytes(keccak(b"\x19\x01" + domain_separator + message_hash))


class TypedDataEnvelope:
    """Type definitions collected from the host, and the hashing that uses them."""

    def __init__(self, host: TypedDataHost, primary_type: str, metamask_v4_compat: bool) -> None:
        self.host = host
        self.primary_type = primary_type
        self.metamask_v4_compat = metamask_v4_compat
        self.types: dict[str, list[messages.EthereumStructMember]] = {}

    def collect_types(self) -> None:
        self._collect_types("EIP712Domain")
        self._collect_types(self.primary_type)

    def _collect_types(self, type_name: str) -> None:
        members = self.host.request_struct(type_name)
        self.types[type_name] = members
        for member in members:
            member_type = member.type
            validate_field_type(member_type)
            while member_type.data_type == EDT.ARRAY:
                member_type = member_type.entry_type
            if member_type.data_type == EDT.STRUCT and member_type.struct_name not in self.types:
                self._collect_types(member_type.struct_name)

    def hash_struct(
        self,
        primary_type: str,
        member_path: list[int],
        show_data: bool,
        parent_objects: list[str],
    ) -> bytes:
        """keccak256(typeHash ‖ encodeData(value)), the value fetched from the host."""
        encoded = bytearray(keccak(self.encode_type(primary_type)))
        self.get_and_encode_data(encoded, primary_type, member_path, show_data, parent_objects)
        return bytes(keccak(bytes(encoded)))

    def encode_type(self, primary_type: str) -> bytes:
        """name(type1 name1,…) followed by the referenced struct types, sorted by name."""
        deps: set[str] = set()
        self.find_typed_dependencies(primary_type, deps)
        deps.remove(primary_type)
        result = []
        for type_name in [primary_type, *sorted(deps)]:
            fields = ",".join(
                f"{layouts.get_type_name(m.type)} {m.name}" for m in self.types[type_name]
            )
            result.append(f"{type_name}({fields})")
        return "".join(result).encode()

    def find_typed_dependencies(self, primary_type: str, results: set[str]) -> None:
        if primary_type in results or primary_type not in self.types:
            return
        results.add(primary_type)
        for member in self.types[primary_type]:
            member_type = member.type
            while member_type.data_type == EDT.ARRAY:
                member_type = member_type.entry_type
            if member_type.data_type == EDT.STRUCT:
                self.find_typed_dependencies(member_type.struct_name, results)

    def get_and_encode_data(
        self,
        w: bytearray,
        primary_type: str,
        member_path: list[int],
        show_data: bool,
        parent_objects: list[str],
    ) -> None:
        """Append enc(value1) ‖ enc(value2) ‖ … for one struct instance, showing it if asked."""
        host = self.host
        member_value_path = [*member_path, 0]
        current_parent_objects = [*parent_objects, ""]
        # The domain's fields are confirmed together on one screen (lines 290-298, 406-425).
        domain_props: list[tuple[str, str]] | None = None
        if primary_type == "EIP712Domain":
            if any(m.type.data_type in (EDT.ARRAY, EDT.STRUCT) for m in self.types[primary_type]):
                raise data_error("Unexpected member in EIP712Domain")
            domain_props = []
        for member_index, member in enumerate(self.types[primary_type]):
            member_value_path[-1] = member_index
            field_name = member.name
            field_type = member.type

            if field_type.data_type == EDT.STRUCT:
                struct_name = field_type.struct_name
                current_parent_objects[-1] = field_name
                show_struct = show_data and host.should_show_more(
                    layouts.should_show_struct(
                        struct_name,
                        [m.name for m in self.types[struct_name]],
                        ".".join(current_parent_objects),
                    )
                )
                w += self.hash_struct(
                    struct_name, list(member_value_path), show_struct, list(current_parent_objects)
                )
            elif field_type.data_type == EDT.ARRAY:
                if field_type.size is None:
                    array_size = _get_array_size(host, list(member_value_path))
                else:
                    array_size = field_type.size
                entry_type = field_type.entry_type
                current_parent_objects[-1] = field_name
                show_array = show_data and host.should_show_more(
                    layouts.should_show_array(
                        current_parent_objects, layouts.get_type_name(entry_type), array_size
                    )
                )
                arr_w = bytearray()
                el_member_path = [*member_value_path, 0]
                for i in range(array_size):
                    el_member_path[-1] = i
                    if entry_type.data_type == EDT.STRUCT:
                        # MetaMask's signTypedData_v4 hashes structs inside arrays (hashStruct)
                        # where the spec concatenates their encodeData; the firmware follows
                        # MetaMask unless told otherwise.
                        if self.metamask_v4_compat:
                            arr_w += self.hash_struct(
                                entry_type.struct_name,
                                list(el_member_path),
                                show_array,
                                list(current_parent_objects),
                            )
                        else:
                            self.get_and_encode_data(
                                arr_w,
                                entry_type.struct_name,
                                list(el_member_path),
                                show_array,
                                list(current_parent_objects),
                            )
                    else:
                        value = get_value(host, entry_type, list(el_member_path))
                        encode_field(arr_w, entry_type, value)
                        if show_array:
                            host.confirm(
                                layouts.confirm_typed_value(
                                    field_name, value, parent_objects, entry_type, i
                                )
                            )
                w += keccak(bytes(arr_w))
            else:
                value = get_value(host, field_type, list(member_value_path))
                encode_field(w, field_type, value)
                if show_data and domain_props is not None:
                    domain_props.append(layouts.domain_property(field_name, value, field_type))
                elif show_data:
                    host.confirm(
                        layouts.confirm_typed_value(field_name, value, parent_objects, field_type)
                    )
        if show_data and domain_props is not None:
            if domain_props:
                host.confirm(layouts.confirm_domain(domain_props))
            else:
                host.confirm(layouts.empty_domain_warning())


def encode_field(w: bytearray, field: messages.EthereumFieldType, value: bytes) -> None:
    """encodeData of an atomic value: 32 bytes each, dynamic types hashed."""
    data_type = field.data_type
    if data_type == EDT.BYTES:
        if field.size is None:
            w += keccak(value)
        else:
            w += value.ljust(32, b"\x00")
    elif data_type == EDT.STRING:
        w += keccak(value)
    elif data_type == EDT.INT:
        pad = b"\xff" if value and value[0] & 0x80 else b"\x00"
        w += value.rjust(32, pad)
    elif data_type in (EDT.UINT, EDT.BOOL, EDT.ADDRESS):
        w += value.rjust(32, b"\x00")
    else:
        # Arrays of arrays end here, as in the firmware (an internal error, not a DataError).
        raise WireFailure(messages.FailureType.FirmwareError, "Firmware error")


def _validate_value(field: messages.EthereumFieldType, value: bytes) -> None:
    if field.size is not None and len(value) != field.size:
        raise data_error("Invalid length")
    if field.data_type == EDT.BOOL:
        if value not in (b"\x00", b"\x01"):
            raise data_error("Invalid boolean value")
    elif field.data_type == EDT.ADDRESS:
        if len(value) != 20:
            raise data_error("Invalid address")
    elif field.data_type == EDT.STRING:
        try:
            value.decode()
        except UnicodeError:
            raise data_error("Invalid UTF-8") from None


def validate_field_type(field: messages.EthereumFieldType) -> None:
    """Reject struct definitions the firmware rejects, with its DataError messages."""
    data_type = field.data_type
    if data_type == EDT.ARRAY:
        if field.entry_type is None:
            raise data_error("Missing entry_type in array")
        validate_field_type(field.entry_type)
    elif field.entry_type is not None:
        raise data_error("Unexpected entry_type in nonarray")

    if data_type == EDT.STRUCT:
        if field.struct_name is None:
            raise data_error("Missing struct_name in struct")
    elif field.struct_name is not None:
        raise data_error("Unexpected struct_name in nonstruct")

    size = field.size
    if data_type == EDT.STRUCT:
        if size is None:
            raise data_error("Missing size in struct")
    elif data_type == EDT.BYTES:
        if size is not None and not 1 <= size <= 32:
            raise data_error("Invalid size in bytes")
    elif data_type in (EDT.UINT, EDT.INT):
        if size is None or not 1 <= size <= 32:
            raise data_error("Invalid size in int/uint")
    elif data_type in (EDT.STRING, EDT.BOOL, EDT.ADDRESS) and size is not None:
        raise data_error("Unexpected size in str/bool/addr")


def get_value(host: TypedDataHost, field: messages.EthereumFieldType, path: list[int]) -> bytes:
    value = host.request_value(path)
    _validate_value(field, value)
    return value


def _get_array_size(host: TypedDataHost, member_path: list[int]) -> int:
    length_type = messages.EthereumFieldType(data_type=EDT.UINT, size=2)
    return int.from_bytes(get_value(host, length_type, member_path), "big")
