"""The audit wrapper: every request that changes state leaves exactly one outcome in the log.

Clef's way: the log wraps the API instead of being sprinkled through it. A flow notes its
steps (``request_received``, ``shown_on_device``) in memory; the wrapper writes them together
with the one outcome, in one durable transaction, when the request ends however it ends. A
successful flow hands its steps to the store write that records its result (a grant and its
"approved" entry), so success costs no extra write either.

Steps were never synced on their own (a crash lost them just the same), so keeping them in
memory until the outcome changes no guarantee and saves a write and a thread hop per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from signerd import errors
from signerd.store import Store

LOG = logging.getLogger(__name__)

JSONDict = dict[str, Any]

# The outcome recorded for a request that ended with this error (most specific first).
_OUTCOMES: tuple[tuple[type[errors.SignerdError], str], ...] = (
    (errors.UserRejected, "rejected"),
    (errors.ApprovalTimeout, "timed_out"),
    (errors.QueueTimeout, "queue_timeout"),
    (errors.Cancelled, "cancelled"),
    (errors.PolicyRefused, "policy_refused"),
    (errors.TooManyPending, "policy_refused"),
    (errors.GrantExists, "duplicate"),
    (errors.ValidationError, "invalid"),
    # A payment refused before anything was signed (signerd.flows.payment).
    (errors.PaymentRefused, "spend_refused"),
    (errors.BudgetExceeded, "spend_refused"),
    (errors.SpendConflict, "spend_refused"),
    (errors.GrantNotFound, "spend_refused"),
    (errors.GrantRevoked, "spend_refused"),
    (errors.GrantExpired, "spend_refused"),
    (errors.DeviceError, "device_error"),
)


def outcome_of(exc: BaseException) -> str:
    """The audit event that ends a request which raised ``exc``."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    for cls, event in _OUTCOMES:
        if isinstance(exc, cls):
            return event
    return "failed"


class AuditTrail:
    """One request's entries: steps kept in memory, then exactly one outcome."""

    def __init__(self, peer: JSONDict) -> None:
        self.peer = peer
        self.steps: list[tuple[str, JSONDict | None]] = []
        self.finished = False

    def step(self, event: str, detail: JSONDict | None = None) -> None:
        # Written later, with the outcome: the entry's own time says when it happened.
        self.steps.append((event, {**(detail or {}), "at": round(time.time(), 3)}))

    def take_steps(self) -> list[tuple[str, JSONDict | None]]:
        """The steps, for a store write that records them with the outcome; ends the trail."""
        steps, self.steps = self.steps, []
        self.finished = True
        return steps


@asynccontextmanager
async def audited(store: Store, peer: JSONDict) -> AsyncIterator[AuditTrail]:
    """Run a request inside a trail; on the way out its one outcome is written durably.

    A flow that succeeds must end the trail itself (``take_steps`` into its result's write);
    one that fails gets the outcome its error class names (``outcome_of``).
    """
    trail = AuditTrail(peer)
    try:
        yield trail
    except BaseException as exc:
        if not trail.finished:
            detail = {"reason": str(exc)[:300]} if str(exc) else None
            await _write(store, trail, outcome_of(exc), detail)
        raise
    if not trail.finished:
        await _write(store, trail, "completed", None)


async def _write(store: Store, trail: AuditTrail, outcome: str, detail: JSONDict | None) -> None:
    entries = [*trail.take_steps(), (outcome, detail)]
    # Shielded: a client that disconnects mid-write must not leave a request without outcome.
    await asyncio.shield(asyncio.to_thread(store.append_audit_entries, entries, peer=trail.peer))
