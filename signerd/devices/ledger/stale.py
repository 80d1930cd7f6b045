"""A Ledger review that outlived its request: the answer the device still owes.

The Ethereum app has no cancel command. When the host gives up on an interactive exchange
(cancelled, timed out), the review stays on the screen and the app answers it whenever the
person does, to whichever link is open then; the app takes no other APDU before that. Sent
blindly, the next request's first APDU would get the stale answer, and every later APDU the
answer meant for the one before: a late approval could pass for another request's reply.

So the signer notes the owed answer (``owe``) and, before the next operation sends anything,
``settle`` resynchronises: it sends one probe (GET APP CONFIGURATION, whose 4-byte reply no
review answer has) and reads replies until the probe's comes back, dropping whatever came
before it (the stale answer, approval or rejection). While the probe is not answered the
review is still on the screen: the person is told so, and after ``wait`` seconds the
operation fails with StaleReview, the probe still counted as owed (a later settle reads its
reply first).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from signerd.devices.base import Notify
from signerd.devices.ledger.apdu import INS_GET_APP_CONFIGURATION, SW_OK, apdu
from signerd.devices.ledger.transport import Transport
from signerd.errors import StaleReview

LOG = logging.getLogger(__name__)

PROBE: Final = apdu(INS_GET_APP_CONFIGURATION, 0, 0)
CONFIG_REPLY_SIZE: Final = 4  # flags, major, minor, patch
# How long the probe may take on an idle app before the review counts as still on screen.
PROBE_GRACE: Final = 1.0
STALE_REVIEW_HELP: Final = (
    "The previous request's review is still on the Ledger: reject it there (or quit and "
    "reopen the Ethereum app); this request goes on once the screen is clear."
)


class OwedReplies:
    """The replies the device still owes this signer: a stale review's, then a probe's."""

    def __init__(self) -> None:
        self.review = False  # an exchange was abandoned: its answer may still come
        self.probe_on: Transport | None = None  # the link the unanswered probe went out on
        self.stray = False  # a probe sent on an older link may still be answered on this one

    def owe(self) -> None:
        """An exchange was abandoned, its review possibly still on the screen."""
        self.review = True

    def settle(
        self,
        connect: Callable[[], Transport],
        notify: Notify | None,
        wait: float,
        check: Callable[[], None],
    ) -> None:
        """Consume every owed reply before the caller's first APDU (see the module doc).

        ``check`` raises if the operation was cancelled meanwhile; StaleReview after ``wait``
        seconds with the review still on the screen.
        """
        if not self.review and self.probe_on is None:
            return
        transport = connect()
        if self.probe_on is not transport:
            self.stray = self.stray or self.probe_on is not None
            check()
            transport.send(PROBE, PROBE_GRACE)
            self.probe_on = transport
        deadline = time.monotonic() + wait
        told = False
        while True:
            check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise StaleReview(STALE_REVIEW_HELP)
            try:
                data, sw = transport.receive(min(left, PROBE_GRACE))
            except TimeoutError:
                if not told:
                    told = True
                    LOG.info("waiting for the person to dismiss a stale review on the Ledger")
                    if notify is not None:
                        notify(STALE_REVIEW_HELP)
                continue
            if sw == SW_OK and len(data) == CONFIG_REPLY_SIZE:
                break
            LOG.warning("dropped the Ledger's late answer (0x%04x) to an abandoned request", sw)
        if self.stray:
            _drain(transport)
        self.review, self.probe_on, self.stray = False, None, False


def _drain(transport: Transport) -> None:
    """Drop the replies that still arrive shortly: an older link's probe's."""
    while True:
        try:
            transport.receive(PROBE_GRACE / 4)
        except TimeoutError:
            return
