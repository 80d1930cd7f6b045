"""Sealing held session keys under a secret that only the device releases.

The key-encryption secret is never stored: at unlock the device is asked for 32 bytes it
alone can compute, and the person confirms that on the device.

- Trezor: CipherKeyValue (SLIP-11) with ``KEY_NAME`` on ``TREZOR_PATH``, ask on encrypt and
  on decrypt, of a value derived from the data directory's ``daemon_id``. The firmware
  answers AES-256-CBC under HMAC-SHA512(node key, name || "E1" || "D1"): deterministic for
  one seed, impossible without it.
- Other devices (a Ledger's Ethereum app has no CipherKeyValue): a signature over a fixed
  EIP-712 struct naming the daemon (``unlock_typed_data``) at the account's path. ECDSA with
  RFC 6979 nonces (the Ledger app, Trezor firmware, eth-account) gives the same r || s for
  the same key and digest, so it is a secret of the seed too.

Either output goes through HKDF-SHA256 (salt: ``daemon_id``, info: the method) to the AES-256
key. A sealed key is AES-256-GCM: nonce (12) || ciphertext || tag (16), with the address as
associated data, so a sealed key cannot be moved to another address's row.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Final, Protocol, runtime_checkable

from signerd.devices import Notify, Signer
from signerd.errors import KeysWrongDevice

KEY_NAME: Final = "signerd held keys"
"""The SLIP-11 key name: the Trezor shows it on the confirm screen."""
TREZOR_PATH: Final = "m/10016'/1'"
"""A hardened path of the keystore's own, away from any account's keys (SLIP-11 allows any)."""
METHOD_CIPHER_KEY_VALUE: Final = "slip11-cipherkeyvalue"
METHOD_TYPED_DATA: Final = "eip712-rfc6979"
UNLOCK_PROMPT: Final = "Unlock held session keys on your device"
UNLOCK_PURPOSE: Final = "Unlock signerd held session keys"
CHECK_LABEL: Final = "keystore check"
_CHECK_TEXT: Final = b"signerd keystore: this device holds the key"
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16


@runtime_checkable
class KeyValueCipher(Protocol):
    """A signer with SLIP-11 CipherKeyValue (TrezorSigner)."""

    def encrypt_key_value(
        self, path: str, key: str, value: bytes, *, notify: Notify | None = None
    ) -> bytes: ...


def unseal_method(signer: Signer) -> str:
    """Which device operation releases the secret on this signer."""
    return METHOD_CIPHER_KEY_VALUE if isinstance(signer, KeyValueCipher) else METHOD_TYPED_DATA


def new_daemon_id() -> str:
    return secrets.token_hex(16)


def unlock_typed_data(daemon_id: str) -> dict[str, Any]:
    """The EIP-712 struct a device without CipherKeyValue signs to release the secret."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
            ],
            "Unlock": [
                {"name": "purpose", "type": "string"},
                {"name": "daemon", "type": "string"},
            ],
        },
        "primaryType": "Unlock",
        "domain": {"name": "signerd keystore", "version": "1"},
        "message": {"purpose": UNLOCK_PURPOSE, "daemon": daemon_id},
    }


def unseal_secret(
    signer: Signer, daemon_id: str, method: str, path: str, notify: Notify | None = None
) -> bytes:
    """The 32-byte key-encryption key of ``daemon_id``'s held keys, released by the device.

    Runs on the device worker's thread (it waits for the person). ``path``: the account path
    for the typed-data method; CipherKeyValue always uses ``TREZOR_PATH``.
    """
    if method == METHOD_CIPHER_KEY_VALUE:
        if not isinstance(signer, KeyValueCipher):
            raise KeysWrongDevice(
                "the held keys were sealed by a Trezor (CipherKeyValue): connect that Trezor"
            )
        value = hashlib.sha256(b"signerd keystore\x00" + daemon_id.encode()).digest()
        material = signer.encrypt_key_value(TREZOR_PATH, KEY_NAME, value, notify=notify)
    elif method == METHOD_TYPED_DATA:
        if isinstance(signer, KeyValueCipher):
            raise KeysWrongDevice(
                "the held keys were sealed by a device without CipherKeyValue (a Ledger): "
                "connect that device"
            )
        signature = signer.sign_typed_data(unlock_typed_data(daemon_id), path, notify=notify)
        material = signature[:64]  # r || s; v adds nothing
    else:
        raise KeysWrongDevice(f"unknown keystore method {method!r} (written by a newer signerd?)")
    return derive_kek(material, daemon_id, method)


def derive_kek(material: bytes, daemon_id: str, method: str) -> bytes:
    """HKDF-SHA256 of what the device released, bound to the data directory and method."""
    from Crypto.Hash import SHA256
    from Crypto.Protocol.KDF import HKDF

    key = HKDF(
        material, 32, daemon_id.encode(), SHA256, context=b"signerd held keys|" + method.encode()
    )
    assert isinstance(key, bytes)
    return key


def seal(kek: bytes, label: str, plaintext: bytes) -> bytes:
    """AES-256-GCM of ``plaintext`` bound to ``label`` (an address): nonce || ct || tag."""
    from Crypto.Cipher import AES

    nonce = secrets.token_bytes(_NONCE_BYTES)
    cipher = AES.new(kek, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_BYTES)
    cipher.update(_associated(label))
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return nonce + ciphertext + tag


def unseal(kek: bytes, label: str, sealed: bytes) -> bytes:
    """The plaintext of ``seal``; ValueError if the key or the label is not the sealing one."""
    if len(sealed) < _NONCE_BYTES + _TAG_BYTES:
        raise ValueError("sealed value too short")
    from Crypto.Cipher import AES

    nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    cipher = AES.new(kek, AES.MODE_GCM, nonce=nonce, mac_len=_TAG_BYTES)
    cipher.update(_associated(label))
    plaintext: bytes = cipher.decrypt_and_verify(body[:-_TAG_BYTES], body[-_TAG_BYTES:])
    return plaintext


def check_blob(kek: bytes) -> bytes:
    """The known text sealed under ``kek``: stored, it tells the right device from another."""
    return seal(kek, CHECK_LABEL, _CHECK_TEXT)


def opens(kek: bytes, blob: bytes) -> bool:
    """Whether ``kek`` is the secret ``blob`` was made with."""
    try:
        return unseal(kek, CHECK_LABEL, blob) == _CHECK_TEXT
    except ValueError:
        return False


def _associated(label: str) -> bytes:
    return b"signerd held key\x00" + label.lower().encode()
