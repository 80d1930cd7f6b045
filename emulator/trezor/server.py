"""The simulator's two UDP links: the wire link (PORT) and the debug link (PORT+1).

Like trezor-emu-core: each datagram is one 64-byte report, "PINGPING" is answered "PONGPONG"
(trezorlib's liveness probe), and every reply goes to whoever sent the LAST datagram on that
port, whatever message it answers (core/embed/io/usb/unix/sock.c keeps one peer address per
port and overwrites it on each recvfrom). So a second host socket that pings the wire port
while a workflow waits steals that workflow's answer, as on the real emulator. The debug
link is served by its own thread, so it reads screens and presses buttons while the wire link
is blocked in a workflow.

Debug link, as trezorlib's DebugLink and TrezorTestContext use it: WipeDevice (no screen),
DebugLinkReseedRandom, DebugLinkGetGcInfo (a constant heap), DebugLinkDecision (button
YES/NO/INFO, or a physical button: a press, no answer; a swipe up/down turns the page of a
paged Model T screen), DebugLinkGetState (DebugLinkState
with `tokens` = the current screen's layout JSON: title, FormattedText, buttons, which
`LayoutContent` parses). Simulator extensions: that JSON carries a "sim" object
{index, awaiting_input, busy, flow, kind}, and `DebugLinkState.layout` holds a UTF-8 JSON list
of the layout JSON of every screen of the current or last workflow, in order.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from trezorlib import messages

from emulator.trezor.device import SimulatedTrezor
from emulator.trezor.models import PressEvent, WireEvent
from emulator.trezor.wire import Address, Reassembler, WireFailure, decode, encode, reports

LOG = logging.getLogger(__name__)

PING = b"PINGPING"
PONG = b"PONGPONG"
# Receive timeout: how quickly the receiver threads notice a stop request.
POLL_SECONDS = 0.2

# A heap that never changes: trezorlib's test context checks only that it does not shrink.
_GC_INFO = messages.DebugLinkGcInfo(
    items=[
        messages.DebugLinkGcInfoItem(name=name, value=1 << 20)
        for name in ("free", "max_free", "total")
    ]
)

_PHYSICAL = {
    messages.DebugPhysicalButton.LEFT_BTN: messages.DebugButton.NO,
    messages.DebugPhysicalButton.MIDDLE_BTN: messages.DebugButton.YES,
    messages.DebugPhysicalButton.RIGHT_BTN: messages.DebugButton.YES,
}


def decision_button(
    decision: messages.DebugLinkDecision, touch: Callable[[int, int], messages.DebugButton | None]
) -> messages.DebugButton | None:
    """The press a DebugLinkDecision stands for; None for swipes and text input.

    A touch (x, y) is what `touch` makes of it on the screen that is up: the "Show full …"
    button on a screen that has one (trezorlib's test flows tap it on a Model T:
    input_flows.py InputFlowEIP712ShowMore.SHOW_MORE), a Frame's corner button
    (screen_buttons.menu(): InputFlowShowAddressQRCode); it is ignored elsewhere.
    """
    if decision.button is not None:
        return messages.DebugButton(decision.button)
    if decision.physical_button is not None:
        return _PHYSICAL[messages.DebugPhysicalButton(decision.physical_button)]
    if decision.x is not None and decision.y is not None:
        return touch(decision.x, decision.y)
    return None


class UdpLinks:
    """Owns the sockets and receiver threads around one SimulatedTrezor."""

    def __init__(self, host: str, port: int, drop_after: int | None = None) -> None:
        self.host = host
        self.port = port
        self.drop_after = drop_after
        self.wire_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.debug_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.wire_sock.bind((host, port))
        self.debug_sock.bind((host, port + 1))
        for sock in (self.wire_sock, self.debug_sock):
            sock.settimeout(POLL_SECONDS)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._received = 0
        self.device: SimulatedTrezor | None = None
        # sock.c: the one address replies go to, per port, set by every datagram received.
        self._last_peer: dict[socket.socket, Address] = {}

    # Senders handed to the device (its thread) and used by the debug thread.

    def send_wire(self, peer: Address, msg_type: int, payload: bytes) -> None:
        for report in reports(msg_type, payload):
            self.send_raw(peer, report)

    def send_raw(self, peer: Address, data: bytes) -> None:
        """``data`` to the wire port's last sender (``peer`` only if nothing came since)."""
        try:
            self.wire_sock.sendto(data, self._last_peer.get(self.wire_sock, peer))
        except OSError:
            if self.wire_sock.fileno() != -1:  # not closed by --drop-after
                raise

    def _send_debug(self, peer: Address, msg: messages.MessageType) -> None:
        msg_type, payload = encode(msg)
        for report in reports(msg_type, payload):
            self.debug_sock.sendto(report, self._last_peer.get(self.debug_sock, peer))

    def start(self, device: SimulatedTrezor) -> None:
        self.device = device
        for name, target in (
            ("trezor-device", device.run),
            ("trezor-wire", self._serve_wire),
            ("trezor-debug", self._serve_debug),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        if self.device is not None:
            self.device.stop()
        for thread in self._threads:
            thread.join(timeout=2)
        self.wire_sock.close()
        self.debug_sock.close()

    def _receive(self, sock: socket.socket) -> tuple[bytes, Address] | None:
        try:
            data, peer = sock.recvfrom(4096)
        except TimeoutError:
            return None
        except OSError:
            if not self._stopping.is_set():
                LOG.exception("receive failed")
            return None
        address = (str(peer[0]), int(peer[1]))
        self._last_peer[sock] = address
        return data, address

    def _serve_wire(self) -> None:
        assert self.device is not None
        reassembler = Reassembler()
        while not self._stopping.is_set():
            received = self._receive(self.wire_sock)
            if received is None:
                continue
            data, peer = received
            if self.drop_after is not None and self._received >= self.drop_after:
                # --drop-after: unplugged. An emulator that goes away releases its port,
                # which is how a host tells (it cannot ping: see this module's docstring).
                LOG.warning("drop-after %d: closing the wire port", self.drop_after)
                self.wire_sock.close()
                return
            if data == PING:
                self.send_raw(peer, PONG)
                continue
            message = reassembler.feed(peer, data)
            if message is None:
                continue
            self._received += 1
            self.device.post(WireEvent(peer, *message))
            if self.drop_after is not None and self._received >= self.drop_after:
                LOG.warning("drop-after %d: going silent after this message", self.drop_after)

    def _serve_debug(self) -> None:
        assert self.device is not None
        reassembler = Reassembler()
        while not self._stopping.is_set():
            received = self._receive(self.debug_sock)
            if received is None:
                continue
            data, peer = received
            if data == PING:
                self.debug_sock.sendto(PONG, self._last_peer.get(self.debug_sock, peer))
                continue
            message = reassembler.feed(peer, data)
            if message is None:
                continue
            try:
                msg = decode(*message)
            except WireFailure as failure:
                self._send_debug(peer, failure.to_message())
                continue
            if isinstance(msg, messages.DebugLinkDecision):
                # The firmware does not answer decisions; hosts follow up with GetState.
                button = decision_button(msg, self.device.touch)
                if msg.swipe is not None:
                    self.device.swipe(messages.DebugSwipeDirection(msg.swipe))
                elif button is not None:
                    self.device.post(PressEvent(button))
            elif isinstance(msg, messages.DebugLinkGetState):
                self._send_debug(peer, self.device.debug_state(msg.wait_layout))
            elif isinstance(msg, messages.WipeDevice):
                # core/src/apps/debug: a wipe without a screen, for test set-up.
                self.device.wipe()
                self._send_debug(peer, messages.Success(message="Device wiped"))
            elif isinstance(msg, messages.DebugLinkReseedRandom):
                self._send_debug(peer, messages.Success())
            elif isinstance(msg, messages.DebugLinkGetGcInfo):
                self._send_debug(peer, _GC_INFO)
            elif isinstance(msg, messages.DebugLinkStop):
                pass  # restarts the event loop: nothing to restart here, and no answer
            else:
                self._send_debug(
                    peer,
                    messages.Failure(
                        code=messages.FailureType.UnexpectedMessage, message="Unexpected message"
                    ),
                )
