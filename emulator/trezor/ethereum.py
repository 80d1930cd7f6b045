"""The simulated Trezor's keys and Ethereum workflows (addresses, messages, typed data).

Each function answers one message on a device, as core/src/apps/ethereum/*.py does at
core/v2.12.4 (legacy/firmware/fsm_msg_ethereum.h on the One): the same checks, the same
screens in the same order (`layouts.py`), the same signature encoding. Transactions are in
`sign_tx.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bip32.base58 import b58encode_check
from bip32.utils import _serialize_extended_key
from eth_keys.datatypes import PrivateKey, Signature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak
from trezorlib import messages, protobuf

from emulator.keys import Keyring
from emulator.trezor import address_details, layouts, networks
from emulator.trezor.eip712 import TypedDataHost, generate_typed_data_hash
from emulator.trezor.layouts import Screen
from emulator.trezor.wire import data_error


class Device(TypedDataHost, Protocol):
    """What the workflows need of the device: its keys, model and screens."""

    keyring: Keyring

    @property
    def typed_data(self) -> bool: ...

    # A Model T, which lays its text out as the firmware does (bolt_text.py).
    bolt: bool

    def confirm(self, screen: Screen) -> None: ...

    def show(self, screen: Screen, *, button_request: bool = True) -> messages.DebugButton: ...


def hd_node(keyring: Keyring, address_n: Sequence[int]) -> tuple[messages.HDNodeType, str]:
    path = list(address_n)
    chain_code, public_key = keyring.extended_public(path)
    parent = keyring.fingerprint(path[:-1]) if path else bytes(4)
    child_num = path[-1] if path else 0
    node = messages.HDNodeType(
        depth=len(path),
        fingerprint=int.from_bytes(parent, "big"),
        child_num=child_num,
        chain_code=chain_code,
        public_key=public_key,
    )
    xpub = b58encode_check(
        _serialize_extended_key(public_key, len(path), parent, child_num, chain_code)
    ).decode()
    return node, xpub


def ethereum_key(
    keyring: Keyring, address_n: Sequence[int], encoded_network: bytes | None = None
) -> tuple[PrivateKey, str]:
    """Private key and checksummed address; paths outside the network's keychain refused."""
    path = list(address_n)
    networks.check_path(path, networks.for_path(path, encoded_network))
    key = PrivateKey(keyring.private_key(path))
    return key, str(key.public_key.to_checksum_address())


def sign_digest(key: PrivateKey, digest: bytes) -> bytes:
    """r ‖ s ‖ v with v = 27 + recovery id, as the firmware returns Ethereum signatures."""
    signature = key.sign_msg_hash(digest)
    return bytes(signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big")) + bytes(
        [27 + signature.v]
    )


def message_digest(message: bytes) -> bytes:
    """sign_message.py message_digest: EIP-191 version 0x45."""
    return bytes(keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message))


def get_public_key(device: Device, msg: messages.GetPublicKey) -> messages.PublicKey:
    if msg.ecdsa_curve_name not in (None, "secp256k1"):
        raise data_error("Unsupported curve")
    node, xpub = hd_node(device.keyring, msg.address_n)
    if msg.show_display:
        device.confirm(layouts.show_public_key(xpub, layouts.path_to_str(msg.address_n)))
    return messages.PublicKey(
        node=node,
        xpub=xpub,
        root_fingerprint=int.from_bytes(device.keyring.fingerprint([]), "big"),
    )


def ethereum_get_public_key(
    device: Device, msg: messages.EthereumGetPublicKey
) -> messages.EthereumPublicKey:
    path = list(msg.address_n)
    networks.check_path(path, networks.for_path(path, None))
    node, xpub = hd_node(device.keyring, path)
    if msg.show_display:
        device.confirm(layouts.show_public_key(xpub, layouts.path_to_str(path)))
    return messages.EthereumPublicKey(node=node, xpub=xpub)


def get_address(device: Device, msg: messages.EthereumGetAddress) -> messages.EthereumAddress:
    _key, address = ethereum_key(device.keyring, msg.address_n, msg.encoded_network)
    if msg.show_display and device.bolt:
        address_details.show_address(device, address, msg.address_n, bool(msg.chunkify))
    elif msg.show_display:
        device.confirm(layouts.show_address(address, layouts.path_to_str(msg.address_n)))
    return messages.EthereumAddress(address=address)


def sign_message(
    device: Device, msg: messages.EthereumSignMessage
) -> messages.EthereumMessageSignature:
    key, address = ethereum_key(device.keyring, msg.address_n, msg.encoded_network)
    message = bytes(msg.message)
    if device.typed_data:
        device.confirm(layouts.sign_message_address(address, layouts.path_to_str(msg.address_n)))
        _confirm_message(device, message, "sign_message")
    else:
        device.confirm(layouts.legacy_verify_address(address))
        device.confirm(layouts.legacy_sign_message(message))
    return messages.EthereumMessageSignature(
        address=address, signature=sign_digest(key, message_digest(message))
    )


def verify_message(device: Device, msg: messages.EthereumVerifyMessage) -> messages.Success:
    """verify_message.py: recover, compare, then show the message and "valid signature"."""
    signature = bytes(msg.signature)
    if len(signature) != 65:
        raise data_error("Invalid signature")
    message = bytes(msg.message)
    try:
        recovery = signature[64] - 27 if signature[64] >= 27 else signature[64]
        recovered = Signature(signature[:64] + bytes([recovery])).recover_public_key_from_msg_hash(
            message_digest(message)
        )
    except (BadSignature, ValueError) as exc:
        raise data_error("Invalid signature") from exc
    address = str(recovered.to_checksum_address())
    if address.lower() != str(msg.address).lower():
        raise data_error("Invalid signature")
    device.confirm(layouts.verify_message_address(address))
    _confirm_message(device, message, "verify_message")
    device.confirm(layouts.signature_valid())
    return messages.Success(message="Message verified")


def _confirm_message(device: Device, message: bytes, br_name: str) -> None:
    screen = layouts.confirm_message(message, br_name)
    if screen.kind is not layouts.ScreenKind.SHOW_MORE:
        device.confirm(screen)
    elif device.should_show_more(screen):
        device.confirm(layouts.full_message(message, br_name))


def sign_typed_data(
    device: Device, msg: messages.EthereumSignTypedData
) -> messages.EthereumTypedDataSignature:
    key, address = ethereum_key(
        device.keyring, msg.address_n, msg.definitions.encoded_network if msg.definitions else None
    )
    device.confirm(layouts.confirm_signing_address(bytes.fromhex(address[2:])))
    compat = True if msg.metamask_v4_compat is None else bool(msg.metamask_v4_compat)
    digest = generate_typed_data_hash(device, msg.primary_type, compat, msg.show_message_hash)
    return messages.EthereumTypedDataSignature(address=address, signature=sign_digest(key, digest))


def sign_typed_hash(
    device: Device, msg: messages.EthereumSignTypedHash
) -> messages.EthereumTypedDataSignature:
    domain_hash = bytes(msg.domain_separator_hash)
    message_hash = None if msg.message_hash is None else bytes(msg.message_hash)
    if len(domain_hash) != 32 or (message_hash is not None and len(message_hash) != 32):
        raise data_error("Invalid hash length")
    key, address = ethereum_key(device.keyring, msg.address_n)
    if device.typed_data:
        device.confirm(layouts.confirm_signing_address(bytes.fromhex(address[2:])))
        device.confirm(layouts.confirm_typed_hashes(domain_hash, message_hash))
        device.confirm(layouts.confirm_typed_data_final())
    else:
        device.confirm(layouts.legacy_unable_to_show())
        device.confirm(layouts.legacy_verify_address(address))
        device.confirm(layouts.legacy_confirm_hash("EIP-712 domain hash", domain_hash))
        if message_hash is not None:
            device.confirm(layouts.legacy_confirm_hash("EIP-712 message hash", message_hash))
    digest = keccak(b"\x19\x01" + domain_hash + (message_hash or b""))
    return messages.EthereumTypedDataSignature(
        address=address, signature=sign_digest(key, bytes(digest))
    )


# Messages that need the seed: the device asks for the passphrase before handling them.
SEED_MESSAGES: tuple[type[protobuf.MessageType], ...] = (
    messages.GetPublicKey,
    messages.EthereumGetPublicKey,
    messages.EthereumGetAddress,
    messages.EthereumSignMessage,
    messages.EthereumSignTypedData,
    messages.EthereumSignTypedHash,
    messages.EthereumSignTx,
    messages.EthereumSignTxEIP1559,
    messages.CipherKeyValue,
)
