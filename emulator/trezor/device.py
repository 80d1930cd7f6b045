"""The simulated Trezor firmware: features, sessions, keys and the Ethereum workflows.

The device's state (storage, sessions, the unlocked key tree, the model and its faults)
and the table that sends each host message to its handler: the management messages here,
the Ethereum ones in `ethereum.py`, `sign_tx.py` and `cipher.py`. The message loop, the
screens and the presses are `loop.py`'s `DeviceLoop`.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from typing import Any

from trezorlib import messages, protobuf

from emulator.keys import Keyring
from emulator.trezor import cipher, ethereum, layouts, sign_tx
from emulator.trezor.loop import DeviceLoop, ScreenCallback
from emulator.trezor.models import Approval, Faults, ModelSpec, WireEvent
from emulator.trezor.storage import Storage
from emulator.trezor.wire import (
    Address,
    action_cancelled,
    data_error,
    decode,
    unexpected_message,
)

LOG = logging.getLogger(__name__)

NOT_A_REPORT = ord("?")

SIGNING_REQUESTS = (
    messages.EthereumSignTx,
    messages.EthereumSignTxEIP1559,
    messages.EthereumSignTypedData,
    messages.EthereumSignMessage,
    messages.EthereumSignTypedHash,
)


class SimulatedTrezor(DeviceLoop):
    """One device: feed it events with `post`, run its loop with `run` in a thread."""

    def __init__(
        self,
        keyring: Keyring,
        model: ModelSpec,
        *,
        send: Callable[[Address, int, bytes], None],
        send_raw: Callable[[Address, bytes], None],
        approval: Approval = Approval.MANUAL,
        faults: Faults | None = None,
        on_screen: ScreenCallback | None = None,
        on_home: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(send=send, approval=approval, on_screen=on_screen, on_home=on_home)
        self.storage = Storage(keyring, label="signerd simulator")
        # The current session's key tree, set before each message that needs the seed.
        self.keyring = keyring
        self.model = model
        self.bolt = model.key == "t"
        self.faults = faults or Faults()
        self._send_raw = send_raw
        self._device_id = secrets.token_hex(12).upper()
        self._session_id: bytes | None = None

    # --- EIP-712 host callbacks ----------------------------------------------------------

    def request_struct(self, name: str) -> list[messages.EthereumStructMember]:
        ack = self._call(
            messages.EthereumTypedDataStructRequest(name=name), messages.EthereumTypedDataStructAck
        )
        return list(ack.members)

    def request_value(self, member_path: list[int]) -> bytes:
        ack = self._call(
            messages.EthereumTypedDataValueRequest(member_path=member_path),
            messages.EthereumTypedDataValueAck,
        )
        return bytes(ack.value)

    def request_tx_data(self, length: int) -> bytes:
        """sign_tx.py _get_next_chunk: the next calldata chunk, at most ``length`` bytes."""
        ack = self._call(messages.EthereumTxRequest(data_length=length), messages.EthereumTxAck)
        chunk = bytes(ack.data_chunk)
        if len(chunk) > length:
            raise data_error("Too much data")
        return chunk

    def request_definitions(
        self, chain_id: int, address: bytes, func_sig: bytes | None
    ) -> messages.EthereumDefinitions | None:
        """clear_signing.py request_definitions: the host's definitions for a contract."""
        ack = self._call(
            messages.EthereumDefinitionRequest(
                chain_id=chain_id, token_address=address, func_sig=func_sig
            ),
            messages.EthereumDefinitionAck,
        )
        return ack.definitions

    # --- debug link ----------------------------------------------------------------------

    def debug_state(self, wait: messages.DebugWaitType | None) -> messages.DebugLinkState:
        """The current layout (tokens) and this flow's screens (layout), optionally waiting."""
        token, history = self._debug_view(wait)
        return messages.DebugLinkState(
            tokens=[token],
            layout=history,
            passphrase_protection=self.storage.passphrase_protection,
        )

    # --- dispatch ------------------------------------------------------------------------

    def _handle(self, event: WireEvent) -> protobuf.MessageType | None:
        msg = decode(event.msg_type, event.payload)
        LOG.info("<- %s", type(msg).__name__)
        if isinstance(msg, SIGNING_REQUESTS) and self._fault_answer():
            return None
        handler = self._handlers().get(type(msg))
        if handler is None:
            raise unexpected_message()
        if isinstance(msg, ethereum.SEED_MESSAGES):
            self._unlock_seed()
        return handler(msg)

    def _fault_answer(self) -> bool:
        """Apply --stall / --garbage to a signing request; True if it was handled so."""
        if self.faults.stall:
            LOG.warning("stall: leaving the signing request unanswered")
            return True
        if self.faults.garbage and self._peer is not None:
            LOG.warning("garbage: answering the signing request with random bytes")
            # Never starting with "?": no host may mistake it for a protocol v1 report.
            first = secrets.choice([b for b in range(256) if b != NOT_A_REPORT])
            noise = bytes([first]) + os.urandom(63)
            self._send_raw(self._peer, noise)
            return True
        return False

    def _handlers(self) -> dict[type, Callable[[Any], protobuf.MessageType | None]]:
        handlers: dict[type, Callable[[Any], protobuf.MessageType | None]] = {
            messages.Initialize: self._initialize,
            messages.GetFeatures: lambda _msg: self._features(),
            messages.Cancel: self._cancel_idle,
            messages.Ping: self._ping,
            messages.ApplyFlags: self._apply_flags,
            messages.EndSession: self._end_session,
            messages.LockDevice: lambda _msg: messages.Success(),
            messages.LoadDevice: self._load_device,
            messages.WipeDevice: self._wipe_device,
            messages.GetPublicKey: lambda msg: ethereum.get_public_key(self, msg),
            messages.EthereumGetPublicKey: lambda msg: ethereum.ethereum_get_public_key(self, msg),
            messages.EthereumGetAddress: lambda msg: ethereum.get_address(self, msg),
            messages.EthereumSignMessage: lambda msg: ethereum.sign_message(self, msg),
            messages.EthereumVerifyMessage: lambda msg: ethereum.verify_message(self, msg),
            messages.EthereumSignTypedHash: lambda msg: ethereum.sign_typed_hash(self, msg),
            messages.EthereumSignTx: lambda msg: sign_tx.sign_tx(self, msg),
            messages.EthereumSignTxEIP1559: lambda msg: sign_tx.sign_tx_eip1559(self, msg),
            messages.CipherKeyValue: lambda msg: cipher.cipher_key_value(
                self, msg, legacy=not self.model.typed_data
            ),
        }
        if self.model.typed_data:
            handlers[messages.EthereumSignTypedData] = lambda msg: ethereum.sign_typed_data(
                self, msg
            )
            handlers[messages.EthereumSignAuth7702] = self._experimental
        return handlers

    def _experimental(self, _msg: protobuf.MessageType) -> None:
        """A message marked experimental_message in the protobuf (EIP-7702): message_handler.py
        decodes it only with experimental features on, which ApplySettings would turn on and
        the simulator does not take; a debug build names the reason."""
        raise data_error("Failed to decode message: Experimental features are disabled.")

    @property
    def typed_data(self) -> bool:
        return self.model.typed_data

    def _unlock_seed(self) -> None:
        """This session's key tree, asking the host for the passphrase if it has none yet."""
        keyring = self.storage.keyring(self._session_id)
        if keyring is None:
            ack = self._call(messages.PassphraseRequest(), messages.PassphraseAck)
            if ack.on_device:
                raise data_error("Passphrase entry on the device is not simulated")
            keyring = self.storage.set_passphrase(self._session_id, ack.passphrase or "")
        self.keyring = keyring

    # --- management messages ------------------------------------------------------------

    def _features(self) -> messages.Features:
        return self.storage.features(self.model, self._device_id, self._session_id)

    def _initialize(self, msg: messages.Initialize) -> messages.Features:
        self._session_id = self.storage.open_session(msg.session_id)
        return self._features()

    def _load_device(self, msg: messages.LoadDevice) -> messages.Success:
        self.storage.load(msg)
        return messages.Success(message="Device loaded")

    def _wipe_device(self, _msg: messages.WipeDevice) -> messages.Success:
        self.confirm(layouts.confirm_wipe())
        self.wipe()
        return messages.Success(message="Device wiped")

    def wipe(self) -> None:
        """Erase storage (WipeDevice on either link); a new device id, as after a real wipe."""
        self.storage.wipe()
        self._session_id = None
        self._device_id = secrets.token_hex(12).upper()

    def _cancel_idle(self, _msg: messages.Cancel) -> messages.Failure:
        return action_cancelled().to_message()

    def _ping(self, msg: messages.Ping) -> messages.Success:
        if msg.button_protection:
            self.confirm(layouts.confirm_ping(msg.message or ""))
        return messages.Success(message=msg.message)

    def _apply_flags(self, msg: messages.ApplyFlags) -> messages.Success:
        self.storage.flags |= msg.flags
        return messages.Success(message="Flags applied")

    def _end_session(self, _msg: messages.EndSession) -> messages.Success:
        if self._session_id is not None:
            self.storage.end_session(self._session_id)
        self._session_id = None
        return messages.Success()
