"""The simulated Trezor's message loop: one message at a time, screens, presses, debug view.

The device runs in one thread and handles one message at a time, as the firmware does. A
workflow asks the host for more data (`_call`) or shows a screen and waits for a press
(`_show`); meanwhile a Cancel from the host ends it with Failure(ActionCancelled) and any
other message aborts it and is handled afresh. Presses come from the debug link, from the
terminal, or from the --auto policy. What the device does with a message is its subclass's
(`device.py`); the screens shown are kept for the debug link, which reads them from its own
thread.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from trezorlib import messages, protobuf

from emulator.trezor import bolt_text, layouts
from emulator.trezor.layouts import Screen, ScreenKind
from emulator.trezor.models import Approval, Event, PressEvent, WireEvent
from emulator.trezor.wire import (
    Address,
    WireFailure,
    action_cancelled,
    decode,
    encode,
)

LOG = logging.getLogger(__name__)

MT = TypeVar("MT", bound=protobuf.MessageType)
# How long a debug-link GetState that asks to wait for a layout waits at most.
DEBUG_WAIT_SECONDS = 5.0


class _Interrupted(Exception):
    """A message that is not the awaited one: the workflow ends and it is handled anew."""

    def __init__(self, event: WireEvent) -> None:
        super().__init__("workflow interrupted")
        self.event = event


class _Stopped(Exception):
    """The simulator is shutting down."""


ScreenCallback = Callable[[Screen, str | None], None]


class DeviceLoop:
    """The loop and screens of one device: feed it events with `post`, `run` it in a thread."""

    def __init__(
        self,
        *,
        send: Callable[[Address, int, bytes], None],
        approval: Approval,
        on_screen: ScreenCallback | None,
        on_home: Callable[[str], None] | None = None,
    ) -> None:
        self.approval = approval
        self._send_message = send
        self._on_screen = on_screen
        # Told when a workflow that showed screens ends and the home screen is back, with
        # why when the host cancelled it (the terminal would otherwise keep its last screen).
        self._on_home = on_home
        self._host_cancelled = False
        self._inbox: queue.Queue[Event] = queue.Queue()
        self._presses: collections.deque[messages.DebugButton] = collections.deque()
        self._peer: Address | None = None
        # Debug-link view, shared with the debug thread under _cond.
        self._cond = threading.Condition()
        self._screen: Screen | None = None
        self._screen_index = 0
        self._awaiting = False
        self._busy = False
        self._flow = 0
        self._history_flow = -1
        self._history: list[Screen] = []
        # A Model T lays its text out as the firmware does (bolt_text.py) and pages it.
        self.bolt = False
        self._pages: list[bolt_text.Page] = []
        self._page = 0

    # --- threads -------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        self._inbox.put(event)

    def stop(self) -> None:
        self._inbox.put(None)

    def touch(self, x: int, y: int) -> messages.DebugButton | None:
        """The press a touch at (x, y) stands for on the screen that is up, if any."""
        with self._cond:
            return None if self._screen is None else self._screen.press_for_touch(x, y)

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
            self._host_cancelled = False
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
                    showed = self._history_flow == self._flow
                    self._screen = None
                    self._awaiting = False
                    self._busy = False
                    self._screen_index += 1
                    self._cond.notify_all()
                if showed and self._on_home is not None:
                    self._on_home("the host cancelled" if self._host_cancelled else "")
            if reply is not None:
                self._send(reply)

    def _handle(self, event: WireEvent) -> protobuf.MessageType | None:
        """Answer one host message (None: no reply, or one already sent)."""
        raise NotImplementedError

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
            self._host_cancelled = True
            raise action_cancelled()
        raise _Interrupted(event)

    # --- screens -------------------------------------------------------------------------

    def show(self, screen: Screen, *, button_request: bool = True) -> messages.DebugButton:
        """Put a screen up and return the button pressed; a screen a workflow shows again,
        or one it opens from another, comes without a ButtonRequest (`interact(layout,
        None)` in the firmware)."""
        return self._show(screen, button_request)

    def _show(self, screen: Screen, button_request: bool = True) -> messages.DebugButton:
        """Put a screen up (ButtonRequest/ButtonAck) and return the button pressed."""
        with self._cond:
            if self._history_flow != self._flow:
                self._history_flow = self._flow
                self._history = []
            self._history.append(screen)
            self._screen = screen
            self._pages = screen.bolt_pages() if self.bolt else []
            self._page = 0
            self._screen_index += 1
            # The firmware's layout takes input while it waits for the ButtonAck, and
            # trezorlib's test context reads the layout before it acks: the screen is up
            # (and a press is kept for it) from the ButtonRequest on.
            self._awaiting = True
            self._cond.notify_all()
        auto = self._auto_answer(screen)
        if self._on_screen is not None:
            self._on_screen(screen, None if auto is None else auto.name)
        pages = len(self._pages) or screen.pages
        if button_request:
            self._call(
                messages.ButtonRequest(code=screen.br_code, pages=pages, name=screen.br_name),
                messages.ButtonAck,
            )
        button = auto if auto is not None else self._wait_press()
        with self._cond:
            self._awaiting = False
            self._cond.notify_all()
        return button

    def _auto_answer(self, screen: Screen) -> messages.DebugButton | None:
        if self.approval is Approval.REJECT:
            if screen.kind is ScreenKind.MISMATCH:
                return messages.DebugButton.YES  # "Quit": NO would go back to the address
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
                self._host_cancelled = True
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

    # --- debug link ----------------------------------------------------------------------

    def swipe(self, direction: messages.DebugSwipeDirection) -> None:
        """A swipe up (down) shows the next (previous) page of a paged Model T screen; left
        (right) on a horizontal one (address details)."""
        with self._cond:
            swipe = messages.DebugSwipeDirection
            forward, back = swipe.UP, swipe.DOWN
            if self._screen is not None and self._screen.kind is ScreenKind.DETAILS:
                forward, back = swipe.LEFT, swipe.RIGHT
            step = {forward: 1, back: -1}
            page = self._page + step.get(direction, 0)
            if self._pages and 0 <= page < len(self._pages) and page != self._page:
                self._page = page
                self._screen_index += 1
                self._cond.notify_all()

    def _layout(self, screen: Screen, page: int | None) -> dict[str, Any]:
        """The screen's layout JSON; a Model T's page `page`, or all its pages (None)."""
        pages = screen.bolt_pages() if self.bolt else []
        if not pages:
            return screen.layout()
        if page is not None or screen.details:
            # History shows address details at their first page.
            return screen.bolt_layout(page or 0, pages)
        # History keeps every page of a screen, as one page.
        joined: list[tuple[str, ...]] = [p for each in pages for p in each]
        layout = screen.bolt_layout(0, [joined])
        layout["content"].pop("active_page", None)
        layout["content"]["page_count"] = len(pages)
        return layout

    def _debug_view(self, wait: messages.DebugWaitType | None) -> tuple[str, bytes]:
        """The current layout (token) and this flow's screens (layout), optionally waiting."""
        with self._cond:
            if wait == messages.DebugWaitType.CURRENT_LAYOUT:
                self._cond.wait_for(lambda: self._awaiting or not self._busy, DEBUG_WAIT_SECONDS)
            elif wait == messages.DebugWaitType.NEXT_LAYOUT:
                start = self._screen_index
                self._cond.wait_for(lambda: self._screen_index != start, DEBUG_WAIT_SECONDS)
            if self._screen is None:
                layout = dict(layouts.HOME_LAYOUT)
            elif self._pages:
                layout = self._screen.bolt_layout(self._page, self._pages)
            else:
                layout = self._screen.layout()
            layout["sim"] = {
                "index": self._screen_index,
                "awaiting_input": self._awaiting,
                "busy": self._busy,
                "flow": self._flow,  # which workflow: a walker stops at the end of its own
                "kind": self._screen.kind.value if self._screen else "home",
            }
            history = [self._layout(screen, None) for screen in self._history]
        return json.dumps(layout), json.dumps(history).encode()
