"""CipherKeyValue (SLIP-11) on the simulated Trezor, as the firmware computes and shows it.

Follows trezor-firmware core/src/apps/misc/cipher_key_value.py (T / Safe) and
legacy/firmware/fsm_msg_crypto.h with layoutCipherKeyValue (One): value length a multiple of
16; a confirm screen when asked for the direction; key = HMAC-SHA512(node private key,
key name || "E0"/"E1" || "D0"/"D1"); AES-256-CBC (no padding) under its first 32 bytes,
with the host's 16-byte IV or else bytes 32..48 of the HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from Crypto.Cipher import AES
from trezorlib import messages

from emulator.keys import Keyring
from emulator.trezor.layouts import BR, Screen
from emulator.trezor.wire import data_error

# Trezor Suite's labeling prompt has its own title and verb in the core firmware.
SUITE_LABELING_KEY = "Enable labeling?"
LEGACY_ROW = 16  # the One splits the key name into rows of 16 characters (at most four)


class Device(Protocol):
    keyring: Keyring

    def confirm(self, screen: Screen) -> None: ...


def cipher_key_value(
    device: Device, msg: messages.CipherKeyValue, *, legacy: bool
) -> messages.CipheredKeyValue:
    """Handle one CipherKeyValue on ``device`` (``legacy``: a Trezor One's screens)."""
    value = bytes(msg.value)
    if len(value) % 16 > 0:
        raise data_error("Value length must be a multiple of 16")
    encrypt = bool(msg.encrypt)
    if (encrypt and msg.ask_on_encrypt) or (not encrypt and msg.ask_on_decrypt):
        device.confirm(confirm_screen(msg.key, encrypt, legacy=legacy))
    return messages.CipheredKeyValue(
        value=compute_cipher_key_value(
            device.keyring.private_key(list(msg.address_n)),
            msg.key,
            value,
            encrypt=encrypt,
            ask_on_encrypt=bool(msg.ask_on_encrypt),
            ask_on_decrypt=bool(msg.ask_on_decrypt),
            iv=bytes(msg.iv or b""),
        )
    )


def compute_cipher_key_value(
    private_key: bytes,
    key: str,
    value: bytes,
    *,
    encrypt: bool,
    ask_on_encrypt: bool,
    ask_on_decrypt: bool,
    iv: bytes = b"",
) -> bytes:
    """SLIP-11 on one node's private key: what the firmware answers."""
    data = key.encode()
    data += b"E1" if ask_on_encrypt else b"E0"
    data += b"D1" if ask_on_decrypt else b"D0"
    digest = hmac.new(private_key, data, hashlib.sha512).digest()
    aes = AES.new(digest[:32], AES.MODE_CBC, iv=iv if len(iv) == 16 else digest[32:48])
    result: bytes = aes.encrypt(value) if encrypt else aes.decrypt(value)
    return result


def confirm_screen(key: str, encrypt: bool, *, legacy: bool) -> Screen:
    """The confirm screen: core's confirm_action, or the One's layoutCipherKeyValue."""
    if legacy:
        rows = tuple(key[i : i + LEGACY_ROW] for i in range(0, len(key), LEGACY_ROW))[:4]
        title = "Encrypt value of this key?" if encrypt else "Decrypt value of this key?"
        return Screen(title, rows, "cipher_key_value", BR.Other)
    if key == SUITE_LABELING_KEY:
        return Screen("Suite labeling", (key,), "cipher_key_value", confirm_label="Enable")
    title = "Encrypt value" if encrypt else "Decrypt value"
    return Screen(title, (key,), "cipher_key_value", BR.Other)
