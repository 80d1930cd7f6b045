"""The ``paid`` log lines, coalesced: one line per agent, grant and token per second at most.

Agents pay by the thousand a second, and one INFO line each would flood the journal:
systemd-journald by default drops a service's messages past 10,000 in 30 s (RateLimitBurst),
warnings included, from about 333 lines a second sustained. Here the first payment of an
agent (uid, pid), grant and token is logged in full, as before; the ones after it within
COALESCE_WINDOW are counted and logged when the window closes, as one ``paid`` line with
their ``count`` and total ``amount``. The audit log keeps every payment (its
``spend_committed`` entry); this only shapes what the log says.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from signerd.flows.audit import COALESCE_WINDOW, log_event

JSONDict = dict[str, Any]


@dataclass
class _Tally:
    peer: JSONDict
    grant: str
    token: str
    count: int = 0
    amount: int = 0


class PaidLines:
    """``log`` is ``audited``'s ``log_success`` for payments; used on the event loop."""

    def __init__(self) -> None:
        self._open: dict[tuple[Any, ...], tuple[_Tally, asyncio.TimerHandle]] = {}

    def log(self, event: str, peer: JSONDict, detail: JSONDict) -> None:
        """Log the outcome of a payment now, or count it in its open window."""
        key = (peer.get("uid"), peer.get("pid"), detail.get("grant"), detail.get("token"))
        opened = self._open.get(key)
        if opened is not None:
            tally = opened[0]
            tally.count += 1
            tally.amount += int(detail["amount"])
            return
        log_event(event, peer, detail)
        timer = asyncio.get_running_loop().call_later(COALESCE_WINDOW, self._close, key)
        self._open[key] = (_Tally(peer, detail["grant"], detail["token"]), timer)

    def flush(self) -> None:
        """Log every window's count now (at shutdown)."""
        for key in list(self._open):
            self._close(key)

    def _close(self, key: tuple[Any, ...]) -> None:
        tally, timer = self._open.pop(key)
        timer.cancel()
        if tally.count:
            detail = {
                "grant": tally.grant,
                "token": tally.token,
                "count": tally.count,
                "amount": str(tally.amount),
            }
            log_event("paid", tally.peer, detail)
