"""The simulated Trezor firmware: features, sessions, keys and the Ethereum workflows.

The device runs in one thread and handles one message at a time, as the firmware does. A
workflow asks the host for more data (`_call`) or shows a screen and waits for a press
(`_show`); meanwhile a Cancel from the host ends it with Failure(ActionCancelled) and any
other message aborts it and is handled afresh. Presses come from the debug link, from the
terminal, or from the --auto policy.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from trezorlib import messages, protobuf

from emulator.keys import Keyring
from emulator.trezor import cipher, ethereum, layouts, sign_tx
from emulator.trezor.layouts import Screen, ScreenKind
from emulator.trezor.models import (
    Approval,
    Event,
    Faults,
    ModelSpec,
    PressEvent,
    WireEvent,
)
from emulator.trezor.storage import Storage
from emulator.trezor.wire import (
    Address,
    WireFailure,
    action_cancelled,
    data_error,
    decode,
    encode,
    unexpected_message,
)

LOG = logging.getLogger(__name__)

MT = TypeVar("MT", bound=protobuf.MessageType)
NOT_A_REPORT = ord("?")
# How long a debug-link GetState that asks to wait for a layout waits at most.
DEBUG_WAIT_SECONDS = 5.0


class _Interrupted(Exception):
    """A message that is not the awaited one: the workflow ends and it is handled anew."""

    def __init__(self, event: WireEvent) -> None:
        super().__init__("workflow interrupted")
        self.event = event


class _Stopped(Exception):
    """The simulator is shutting down."""


SIGNING_REQUESTS = (
    messages.EthereumSignTx,
    messages.EthereumSignTxEIP1559,
    messages.EthereumSignTypedData,
    messages.EthereumSignMessage,
    messages.EthereumSignTypedHash,
)

ScreenCallback = Callable[[Screen, str | None], None]


class SimulatedTrezor:
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
    ) -> None:
        self.storage = Storage(keyring, label="signerd simulator")
        # The current session's key tree, set before each message that needs the seed.
        self.keyring = keyring
        self.model = model
        self.approval = approval
        self.faults = faults or Faults()
        self._send_message = send
        self._send_raw = send_raw
        self._on_screen = on_screen
        self._inbox: queue.Queue[Event] = queue.Queue()
        self._presses: collections.deque[messages.DebugButton] = collections.deque()
        self._peer: Address | None = None
        self._device_id = secrets.token_hex(12).upper()
        self._session_id: bytes | None = None
        # Debug-link view, shared with the debug thread under _cond.
        self._cond = threading.Condition()
        self._screen: Screen | None = None
        self._screen_index = 0
        self._awaiting = False
        self._busy = False
        self._flow = 0
        self._history_flow = -1
        self._history: list[Screen] = []

    # --- threads -------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        self._inbox.put(event)

    def stop(self) -> None:
        self._inbox.put(None)

    @property
    def showing_more(self) -> bool:
        """True while a "Show full …" screen is up."""
        with self._cond:
            return self._screen is not None and self._screen.kind is ScreenKind.SHOW_MORE

    @property
    def awaiting_input(self) -> bool:
        """True while a screen waits for a press."""
        with self._cond:
            return self._awaiting

    def run(self) -> None:
        """The device loop: one message at a time until `stop`."""
        pending: WireEvent | None = None
        while True:
            event = pending if pending is not None else self._inbox.get()
            pending = None
            if event is None:
                return
            if isinstance(event, PressEvent):
                # A press with nothing on screen waits for the next screen, as the
                # firmware's debuglink channel does.
                self._presses.append(event.button)
                continue
            self._peer = event.peer
            with self._cond:
                self._busy = True
                self._flow += 1
            reply: protobuf.MessageType | None
            try:
                reply = self._handle(event)
            except _Stopped:
                return
            except _Interrupted as interrupted:
                pending = interrupted.event
                reply = None
            except WireFailure as failure:
                reply = failure.to_message()
            except Exception:
                LOG.exception("workflow crashed")
                reply = messages.Failure(
                    code=messages.FailureType.FirmwareError, message="Firmware error"
                )
            finally:
                with self._cond:
                    self._screen = None
                    self._awaiting = False
                    self._busy = False
                    self._screen_index += 1
                    self._cond.notify_all()
            if reply is not None:
                self._send(reply)

    # --- wire ----------------------------------------------------------------------------

    def _send(self, msg: protobuf.MessageType) -> None:
        if self._peer is None:
            return
        LOG.info("-> %s", type(msg).__name__)
        msg_type, payload = encode(msg)
        self._send_message(self._peer, msg_type, payload)

    def _next_wire_event(self) -> WireEvent:
        """Next host message; presses arriving meanwhile are kept for the next screen."""
        while True:
            event = self._inbox.get()
            if event is None:
                raise _Stopped
            if isinstance(event, PressEvent):
                self._presses.append(event.button)
                continue
            return event

    def _call(self, request: protobuf.MessageType, expected: type[MT]) -> MT:
        """Send a request to the host and return its answer of the expected type."""
        self._send(request)
        event = self._next_wire_event()
        self._peer = event.peer
        msg = decode(event.msg_type, event.payload)
        if isinstance(msg, expected):
            return msg
        if isinstance(msg, messages.Cancel):
            raise action_cancelled()
        raise _Interrupted(event)

    # --- screens -------------------------------------------------------------------------

    def _show(self, screen: Screen) -> messages.DebugButton:
        """Put a screen up (ButtonRequest/ButtonAck) and return the button pressed."""
        with self._cond:
            if self._history_flow != self._flow:
                self._history_flow = self._flow
                self._history = []
            self._history.append(screen)
            self._screen = screen
            self._screen_index += 1
            # The firmware's layout takes input while it waits for the ButtonAck, and
            # trezorlib's test context reads the layout before it acks: the screen is up
            # (and a press is kept for it) from the ButtonRequest on.
            self._awaiting = True
            self._cond.notify_all()
        auto = self._auto_answer(screen)
        if self._on_screen is not None:
            self._on_screen(screen, None if auto is None else auto.name)
        self._call(
            messages.ButtonRequest(code=screen.br_code, pages=screen.pages, name=screen.br_name),
            messages.ButtonAck,
        )
        button = auto if auto is not None else self._wait_press()
        with self._cond:
            self._awaiting = False
            self._cond.notify_all()
        return button

    def _auto_answer(self, screen: Screen) -> messages.DebugButton | None:
        if self.approval is Approval.REJECT:
            return messages.DebugButton.NO
        if self.approval is Approval.APPROVE:
            # Approving opens every "Show full …" prompt, so scripts see every field.
            if screen.kind is ScreenKind.SHOW_MORE:
                return messages.DebugButton.INFO
            return messages.DebugButton.YES
        return None

    def _wait_press(self) -> messages.DebugButton:
        if self._presses:
            return self._presses.popleft()
        while True:
            event = self._inbox.get()
            if event is None:
                raise _Stopped
            if isinstance(event, PressEvent):
                return event.button
            self._peer = event.peer
            msg = decode(event.msg_type, event.payload)
            if isinstance(msg, messages.Cancel):
                raise action_cancelled()
            raise _Interrupted(event)

    def confirm(self, screen: Screen) -> None:
        if self._show(screen) == messages.DebugButton.NO:
            raise action_cancelled()

    def should_show_more(self, screen: Screen) -> bool:
        button = self._show(screen)
        if button == messages.DebugButton.NO:
            raise action_cancelled()
        return bool(button == messages.DebugButton.INFO)

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

    # --- debug link ----------------------------------------------------------------------

    def debug_state(self, wait: messages.DebugWaitType | None) -> messages.DebugLinkState:
        """The current layout (tokens) and this flow's screens (layout), optionally waiting."""
        with self._cond:
            if wait == messages.DebugWaitType.CURRENT_LAYOUT:
                self._cond.wait_for(lambda: self._awaiting or not self._busy, DEBUG_WAIT_SECONDS)
            elif wait == messages.DebugWaitType.NEXT_LAYOUT:
                start = self._screen_index
                self._cond.wait_for(lambda: self._screen_index != start, DEBUG_WAIT_SECONDS)
            layout = dict(self._screen.layout() if self._screen else layouts.HOME_LAYOUT)
            layout["sim"] = {
                "index": self._screen_index,
                "awaiting_input": self._awaiting,
                "busy": self._busy,
                "kind": self._screen.kind.value if self._screen else "home",
            }
            history = [screen.layout() for screen in self._history]
        return messages.DebugLinkState(
            tokens=[json.dumps(layout)],
            layout=json.dumps(history).encode(),
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
        return handlers

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
