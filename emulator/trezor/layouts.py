"""The screens of the simulated Trezor: what the firmware's layouts show, as plain data.

Texts, titles and ButtonRequest names follow trezor-firmware at tag core/v2.12.4:
core/src/apps/ethereum/layout.py, sign_typed_data.py and core/translations/en.json (Model T,
Safe 3, Safe 5: the texts are the same on every core model) and
legacy/firmware/fsm_msg_ethereum.h (Trezor One). Screens the Model T's firmware lays out with
its own text rules carry their paragraphs (the styles of core/src/trezor/ui/layouts/bolt and
layout_bolt/ui_firmware.rs); `bolt_text` breaks them into lines and pages as the firmware
does. Safe 3 and Safe 5 (caesar, delizia) keep one line per field: their layouts were not
ported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth_utils.address import to_checksum_address
from trezorlib import messages

from emulator.trezor import bolt_text as bolt
from emulator.trezor.bolt_text import Paragraph
from emulator.trezor.screen import BOX_WIDTH, Screen, ScreenKind

__all__ = ["BOX_WIDTH", "HOME_LAYOUT", "Screen", "ScreenKind"]

EDT = messages.EthereumDataType
BR = messages.ButtonRequestType

HOME_LAYOUT: dict[str, Any] = {"component": "Homescreen"}


def address_from_bytes(address: bytes) -> str:
    return str(to_checksum_address(address))


def format_plural(template: str, count: int, word: str) -> str:
    """trezor.strings.format_plural: "Contains {count} {plural}" with English plurals."""
    if count == 1:
        plural = word
    elif word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        plural = word[:-1] + "ies"
    elif word.endswith(("s", "x", "z", "ch", "sh")):
        plural = word + "es"
    else:
        plural = word + "s"
    return template.format(count=count, plural=plural)


def limit_str(s: str, limit: int = 16) -> str:
    """Titles keep their last `limit` characters, as the firmware shortens them."""
    if len(s) <= limit + 2:
        return s
    return ".." + s[-limit:]


def get_type_name(field: messages.EthereumFieldType) -> str:
    """Solidity type name of a streamed field type (uint256, bytes16, Allowance[] …)."""
    data_type = field.data_type
    size = field.size
    if data_type == EDT.STRUCT:
        assert field.struct_name is not None
        return str(field.struct_name)
    if data_type == EDT.ARRAY:
        assert field.entry_type is not None
        entry = get_type_name(field.entry_type)
        return f"{entry}[]" if size is None else f"{entry}[{size}]"
    if data_type in (EDT.UINT, EDT.INT):
        assert size is not None
        return ("uint" if data_type == EDT.UINT else "int") + str(size * 8)
    if data_type == EDT.BYTES:
        return f"bytes{size}" if size else "bytes"
    names = {EDT.STRING: "string", EDT.BOOL: "bool", EDT.ADDRESS: "address"}
    return names[data_type]


def decode_typed_data(data: bytes, type_name: str) -> str:
    """How the firmware shows a value: integers raw, bytes as hex, addresses checksummed."""
    if type_name.startswith("bytes"):
        return data.hex()
    if type_name == "string":
        return data.decode()
    if type_name == "address":
        return address_from_bytes(data)
    if type_name == "bool":
        return "true" if data == b"\x01" else "false"
    if type_name.startswith("uint"):
        return str(int.from_bytes(data, "big"))
    if type_name.startswith("int"):
        return str(int.from_bytes(data, "big", signed=True))
    raise ValueError(f"unsupported type for display: {type_name}")


def decode_message(message: bytes) -> str:
    """apps.common.signverify.decode_message: text if it is printable UTF-8, else hex."""
    try:
        text = message.decode()
    except UnicodeDecodeError:
        return message.hex()
    if all(ch.isprintable() or ch in "\n\t" for ch in text):
        return text
    return message.hex()


def path_to_str(address_n: Sequence[int]) -> str:
    hardened = 0x8000_0000
    parts = [f"{i & ~hardened}'" if i & hardened else str(i) for i in address_n]
    return "/".join(["m", *parts])


# --- Model T / Safe (core) -----------------------------------------------------------------


def chunked(text: str, size: int = 4) -> str:
    """Text in groups of `size` characters, as the layouts draw an address (chunkify=True:
    bolt/caesar theme `Chunks::new(4, …)` over the whole string, "0x" included)."""
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def confirm_value(description: str, value: str, style: bolt.TextStyle) -> tuple[Paragraph, ...]:
    """ConfirmValueParams: the description (if any) in the normal font above the value."""
    return (Paragraph(description, bolt.TEXT_NORMAL), Paragraph(value, style))


def confirm_signing_address(address: bytes) -> Screen:
    """layout.py require_confirm_address: "0x" + hexlify (lower case), drawn in chunks."""
    text = "0x" + address.hex()
    return Screen(
        "Signing address",
        (chunked(text),),
        "confirm_address",
        BR.SignTx,
        paragraphs=confirm_value("", text, bolt.chunkified_text_style(len(text))),
    )


def confirm_domain(fields: Sequence[tuple[str, str]]) -> Screen:
    """sign_typed_data.py get_and_encode_data for EIP712Domain (v2.12.3+): every field on one
    confirm_properties screen titled with the type name, keys "name (type):" (with_colon)."""
    lines: list[str] = []
    paragraphs: list[Paragraph] = []
    for i, (key, value) in enumerate(fields):
        lines += [f"{key}:", value]
        # layout/util.rs PropsList: a key stays with its value; the last value has no padding.
        last = i == len(fields) - 1
        paragraphs.append(Paragraph(f"{key}:", bolt.TEXT_NORMAL, no_break=True))
        paragraphs.append(Paragraph(value, bolt.TEXT_MONO_DATA, padding_bottom=0 if last else 5))
    return Screen("EIP712Domain", tuple(lines), "confirm_typed_value", paragraphs=tuple(paragraphs))


def empty_domain_warning() -> Screen:
    """show_warning for a domain without fields: ethereum__eip_712_empty_domain."""
    return Screen(
        "Warning",
        ("dApp did not identify itself!",),
        "confirm_typed_value",
        BR.Warning,
        confirm_label="Continue",
    )


def should_show_struct(
    description: str,
    member_names: Iterable[str],
    title: str = "Confirm struct",
    button_text: str = "Show full struct",
) -> Screen:
    names = list(member_names)
    lines = (
        description,
        format_plural("Contains {count} {plural}", len(names), "key"),
        ", ".join(names),
    )
    return Screen(
        title,
        lines,
        "should_show_struct",
        kind=ScreenKind.SHOW_MORE,
        more_label=button_text,
        paragraphs=tuple(Paragraph(line, bolt.TEXT_NORMAL) for line in lines),
        dialog_info=True,
    )


def should_show_array(parent_objects: Sequence[str], data_type: str, size: int) -> Screen:
    line = format_plural("Array of {count} {plural}", size, data_type)
    return Screen(
        limit_str(".".join(parent_objects)),
        (line,),
        "should_show_array",
        kind=ScreenKind.SHOW_MORE,
        more_label="Show full array",
        paragraphs=(Paragraph(line, bolt.TEXT_NORMAL),),
        dialog_info=True,
    )


def confirm_typed_value(
    name: str,
    value: bytes,
    parent_objects: Sequence[str],
    field: messages.EthereumFieldType,
    array_index: int | None = None,
) -> Screen:
    type_name = get_type_name(field)
    if array_index is not None:
        title = limit_str(".".join([*parent_objects, name]))
        description = f"[{array_index}] ({type_name})"
    else:
        title = limit_str(".".join(parent_objects))
        description = f"{name} ({type_name})"
    data = decode_typed_data(value, type_name)
    # confirm_blob / confirm_text -> confirm_value (is_data: the mono font, broken anywhere).
    return Screen(
        title,
        (f"{description}: {data}",),
        "confirm_typed_value",
        paragraphs=confirm_value(f"{description}:", data, bolt.TEXT_MONO_DATA),
    )


def domain_property(name: str, value: bytes, field: messages.EthereumFieldType) -> tuple[str, str]:
    """layout.py extract_properties: ("name (type)", the value as confirm_typed_value shows it)."""
    type_name = get_type_name(field)
    return f"{name} ({type_name})", decode_typed_data(value, type_name)


def confirm_typed_data_final() -> Screen:
    text = "Really sign EIP-712 typed data?"
    return Screen(
        "Confirm typed data",
        (text,),
        "confirm_typed_data_final",
        kind=ScreenKind.HOLD,
        confirm_label="Hold to confirm",
        paragraphs=(Paragraph(text, bolt.TEXT_NORMAL),),
    )


def confirm_empty_typed_message() -> Screen:
    return Screen("Confirm message", ("No message field",), "confirm_empty_typed_message")


def confirm_typed_hashes(domain_hash: bytes, message_hash: bytes | None) -> Screen:
    lines = [f"Domain hash: {domain_hash.hex()}"]
    if message_hash is not None:
        lines.append(f"Message hash: {message_hash.hex()}")
    return Screen("Confirm typed hashes", tuple(lines), "confirm_typed_hash")


# bolt/__init__.py confirm_signverify: a message over LONG_MSG_PAGE_THRESHOLD (5) pages is
# offered in full behind an info button (confirm_blob, ask_pagination); a Model T page holds
# about this many characters of message text.
MESSAGE_PAGE_CHARS = 100
LONG_MSG_PAGE_THRESHOLD = 5


def message_pages(message: bytes) -> int:
    return max(1, -(-len(decode_message(message)) // MESSAGE_PAGE_CHARS))


def confirm_message(message: bytes, br_name: str) -> Screen:
    """The message; a long one as a "Show full message" prompt (INFO opens it)."""
    text = decode_message(message)
    if message_pages(message) <= LONG_MSG_PAGE_THRESHOLD:
        return Screen(
            "Confirm message",
            (text,),
            br_name,
            paragraphs=(Paragraph(text, bolt.TEXT_MONO_DATA),),
        )
    return Screen(
        "Confirm message",
        (text[:MESSAGE_PAGE_CHARS] + "…",),
        br_name,
        kind=ScreenKind.SHOW_MORE,
        more_label="Show all",
    )


def full_message(message: bytes, br_name: str) -> Screen:
    return Screen(
        "Confirm message", (decode_message(message),), br_name, pages=message_pages(message)
    )


def sign_message_address(address: str, path: str) -> Screen:
    """bolt confirm_signverify: the Model T shows the address alone (path behind info)."""
    return Screen(
        "Sign ETH message",
        (f"Address: {address}", f"Path: {path}"),
        "sign_message",
        paragraphs=(Paragraph(address, bolt.TEXT_MONO_DATA),),
        bolt_title="Signing address",
    )


def confirm_message_hash(message_hash: bytes) -> Screen:
    """layout.py confirm_message_hash."""
    return Screen(
        "Confirm message hash", ("0x" + message_hash.hex(),), "confirm_message_hash", BR.SignTx
    )


def verify_message_address(address: str) -> Screen:
    return Screen("Verify address", (address,), "verify_message", confirm_label="Continue")


def signature_valid() -> Screen:
    """verify_message.py show_success."""
    return Screen("Success", ("The signature is valid.",), "verify_message", BR.Success)


def show_address(address: str, path: str) -> Screen:
    """bolt show_address: the address alone (the path is behind its info button)."""
    return Screen(
        "Receive address",
        (address, f"Path: {path}"),
        "show_address",
        BR.Address,
        paragraphs=(Paragraph(address, bolt.TEXT_MONO_DATA),),
    )


def show_public_key(xpub: str, path: str) -> Screen:
    return Screen("Public key", (xpub, f"Path: {path}"), "show_xpub", BR.PublicKey)


def confirm_wipe() -> Screen:
    """apps/management/wipe_device.py confirm_action."""
    return Screen(
        "Wipe device",
        ("All data will be removed.",),
        "confirm_wipe",
        BR.WipeDevice,
        kind=ScreenKind.HOLD,
        confirm_label="Hold to wipe",
    )


def confirm_ping(message: str) -> Screen:
    return Screen("Confirm", (message,), "ping", BR.ProtectCall)


# --- Trezor One (legacy) -------------------------------------------------------------------


def legacy_unable_to_show() -> Screen:
    return Screen(
        "Warning",
        ("Unable to show", "EIP-712 data.", "Sign at your own risk."),
        "protect_call",
        BR.ProtectCall,
        confirm_label="Continue",
    )


def legacy_verify_address(address: str) -> Screen:
    return Screen("Verify address", (address,), "verify_address")


def legacy_confirm_hash(title: str, digest: bytes) -> Screen:
    return Screen(title, (digest.hex(),), "confirm_hash")


def legacy_sign_message(message: bytes) -> Screen:
    return Screen("Sign message", (decode_message(message),), "sign_message", BR.ProtectCall)
