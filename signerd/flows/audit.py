"""The audit wrapper: every request that changes state leaves exactly one outcome in the log.

Clef's way: the log wraps the API instead of being sprinkled through it. A flow notes its
steps (``request_received``, ``shown_on_device``) in memory; the wrapper writes them together
with the one outcome, in one durable transaction, when the request ends however it ends. A
successful flow hands its steps to the store write that records its result (a grant and its
"approved" entry), so success costs no extra write either.

Steps were never synced on their own (a crash lost them just the same), so keeping them in
memory until the outcome changes no guarantee and saves a write and a thread hop per request.

Refusals (requests refused before the device: policy, invalid, duplicate; payments refused
before anything was signed) are coalesced, so a peer flooding refused requests cannot make
the daemon write and sync one row each: the first
refusal of a kind from a peer is written as usual and opens a COALESCE_WINDOW; the same
refusals from the same peer inside it are counted and written as one entry whose detail
carries ``count`` (the number of requests it accounts for) when the window closes. Every
request still has exactly one outcome accounted for; a crash can lose at most one window's
count.

The same place logs each request as events on the ``signerd.events`` logger, at INFO: one
line when a request arrives and one for its outcome (``approved``, ``paid``, ``rejected``,
``timed_out``, ...; a coalesced refusal is logged when it is written), each an event name
and a compact JSON object, so no value can start a line of its own. They carry ids, labels,
amounts and peers, never keys or signatures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from signerd import errors
from signerd.store import Store
from signerd.store.values import canonical_json

LOG = logging.getLogger(__name__)
EVENTS = logging.getLogger("signerd.events")

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
    # On chain, refused before the device (signerd.flows.delegation, .permissions, .disable).
    (errors.DelegationExists, "duplicate"),
    (errors.ChainNotConfigured, "invalid"),
    (errors.DelegationUnsupported, "invalid"),
    (errors.DelegationMismatch, "invalid"),
    (errors.DelegationNotFound, "invalid"),
    # A payment refused before anything was signed (signerd.flows.payment).
    (errors.PaymentRefused, "spend_refused"),
    (errors.BudgetExceeded, "spend_refused"),
    (errors.SpendConflict, "spend_refused"),
    (errors.GrantNotFound, "spend_refused"),
    (errors.GrantRevoked, "spend_refused"),
    (errors.GrantExpired, "spend_refused"),
    (errors.HeldKeyNotFound, "spend_refused"),
    (errors.DeviceError, "device_error"),
)


# Outcomes of requests refused before the device or before anything was signed: coalesced
# per peer and kind. A refused payment costs a check, not a durable write: an agent sending
# payments past its budget as fast as it can must not take the disk from the others.
COALESCED: Final = frozenset({"policy_refused", "invalid", "duplicate", "spend_refused"})
COALESCE_WINDOW: Final = 1.0  # seconds


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
        self.result: tuple[str, JSONDict] = ("completed", {})  # what success logs

    def step(self, event: str, detail: JSONDict | None = None, *, logged: bool = True) -> None:
        """Note a step. ``request_received`` is also logged as a ``request`` event unless
        ``logged`` is False: a request answered at once (a payment) logs its outcome alone."""
        # Written later, with the outcome: the entry's own time says when it happened.
        self.steps.append((event, {**(detail or {}), "at": round(time.time(), 3)}))
        if logged and event == "request_received":
            log_event("request", self.peer, detail)

    def succeeded(self, event: str, detail: JSONDict) -> None:
        """Name the successful outcome the wrapper logs (the store write audits it)."""
        self.result = (event, detail)

    def take_steps(self) -> list[tuple[str, JSONDict | None]]:
        """The steps, for a store write that records them with the outcome; ends the trail."""
        steps, self.steps = self.steps, []
        self.finished = True
        return steps


@dataclass
class _Window:
    """Refusals of one kind from one peer counted since the window opened."""

    peer: JSONDict
    outcome: str
    count: int = 0
    reason: JSONDict | None = None


class RefusalLog:
    """Coalesces refusals per (peer, kind) over COALESCE_WINDOW (see the module docstring).

    Used on the event loop; ``flush`` writes what is still counted (at shutdown).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._open: dict[tuple[str, str], tuple[_Window, asyncio.TimerHandle]] = {}
        self._writes: set[asyncio.Task[None]] = set()

    async def record(self, trail: AuditTrail, outcome: str, detail: JSONDict | None) -> bool:
        """Account for one refused request: written now (True), or counted in the open window
        (False)."""
        key = (canonical_json(trail.peer), outcome)
        opened = self._open.get(key)
        if opened is not None:
            window = opened[0]
            window.count += 1
            window.reason = detail
            trail.take_steps()  # accounted for by the window's count
            return False
        timer = asyncio.get_running_loop().call_later(COALESCE_WINDOW, self._close, key)
        self._open[key] = (_Window(trail.peer, outcome), timer)
        await _write(self._store, trail, outcome, detail)
        return True

    def _close(self, key: tuple[str, str]) -> None:
        window, timer = self._open.pop(key)
        timer.cancel()
        if window.count:
            task = asyncio.create_task(self._write_count(window))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write_count(self, window: _Window) -> None:
        detail = {**(window.reason or {}), "count": window.count}
        log_event(window.outcome, window.peer, detail)
        entries = [(window.outcome, detail)]
        await asyncio.to_thread(self._store.append_audit_entries, entries, peer=window.peer)

    async def flush(self) -> None:
        """Close every window now and wait until their counts are written."""
        for key in list(self._open):
            self._close(key)
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


@asynccontextmanager
async def audited(
    store: Store,
    peer: JSONDict,
    refusals: RefusalLog | None = None,
    log_success: Callable[[str, JSONDict, JSONDict], None] | None = None,
) -> AsyncIterator[AuditTrail]:
    """Run a request inside a trail; on the way out its one outcome is written durably.

    A flow that succeeds must end the trail itself (``take_steps`` into its result's write);
    one that fails gets the outcome its error class names (``outcome_of``). With
    ``refusals``, a refusal's outcome goes through it (coalesced per peer and kind).
    ``log_success(event, peer, detail)`` logs a success instead of ``log_event``.
    """
    trail = AuditTrail(peer)
    try:
        yield trail
    except BaseException as exc:
        if not trail.finished:
            detail = {"reason": str(exc)[:300]} if str(exc) else None
            outcome = outcome_of(exc)
            if refusals is None or outcome not in COALESCED:
                log_event(outcome, peer, _error_detail(exc))
                await _write(store, trail, outcome, detail)
            elif await refusals.record(trail, outcome, detail):
                log_event(outcome, peer, _error_detail(exc))
        raise
    if not trail.finished:
        await _write(store, trail, "completed", None)
    (log_success or log_event)(trail.result[0], peer, trail.result[1])


def log_event(event: str, peer: JSONDict | None, detail: JSONDict | None) -> None:
    """One INFO line on ``signerd.events``: the event, then who and what as compact JSON."""
    who = {key: peer[key] for key in ("uid", "pid") if key in peer} if peer else {}
    EVENTS.info("%s %s", event, canonical_json({**who, **(detail or {})}))


def _error_detail(exc: BaseException) -> JSONDict:
    if isinstance(exc, errors.SignerdError):
        return {"error": exc.name, "reason": exc.message[:300]}
    return {"error": type(exc).__name__}


async def _write(store: Store, trail: AuditTrail, outcome: str, detail: JSONDict | None) -> None:
    entries = [*trail.take_steps(), (outcome, detail)]
    # Shielded: a client that disconnects mid-write must not leave a request without outcome.
    await asyncio.shield(asyncio.to_thread(store.append_audit_entries, entries, peer=trail.peer))
