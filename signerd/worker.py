"""The device worker: one device operation at a time, in its own thread, fairly shared.

Requests wait for their turn in one queue per owner (the requesting peer: uid and pid), and
turns go round the owners in order: an agent with several requests waiting does not hold
up another agent's first one. Everything else in the daemon stays on the event loop, so other
clients keep being served while the person looks at the device. A job that waits too long
for the person is cancelled on the device; a job whose client went away is withdrawn from the
queue or cancelled.
The signer is opened lazily and dropped when its link breaks, so an unplugged device or a
restarted emulator is picked up again by the next job without restarting the daemon.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from signerd.devices import DeviceInfo, Signer, open_signer
from signerd.devices.liveness import udp_port_holder
from signerd.devices.registry import find_by_path
from signerd.errors import (
    ApprovalTimeout,
    DeviceMismatch,
    DeviceUnavailable,
    QueueTimeout,
    SignerdError,
)
from signerd.turns import Turns

LOG = logging.getLogger(__name__)

T = TypeVar("T")

# After cancelling on the device, how long to wait for the device to answer before giving
# up on the link (the worker thread is then freed by dropping the connection).
CANCEL_GRACE_SECONDS = 10.0
# While an operation waits for the person, the device is asked every LIVENESS_INTERVAL
# seconds whether it is still there; this many missed answers in a row mean it is gone.
LIVENESS_INTERVAL = 1.0
LIVENESS_MISSES = 2


class _Vanished(Exception):
    """The device stopped answering liveness checks during an operation."""


class DeviceWorker:
    """Serialises operations on one device path; safe to use from one event loop."""

    def __init__(
        self,
        path: str,
        *,
        allow_blind_signing: bool = False,
        opener: Callable[..., Signer] = open_signer,
    ) -> None:
        self.path = path
        self._allow_blind = allow_blind_signing
        self._open = opener  # open_signer; tests hand in a FakeSigner's
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="device")
        self._last_job: concurrent.futures.Future[Any] | None = None  # the latest submitted
        self._turns = Turns()
        self._signer: Signer | None = None
        self._signer_lock = threading.Lock()
        self._pending = 0
        self.info: DeviceInfo | None = None
        self.last_error: str | None = None
        # Bumped (in the worker thread) each time a link is opened: what was learnt from the
        # device over an older link, like its account, is stale.
        self._generation = 0
        self._accounts: dict[str, tuple[int, str]] = {}  # path -> (generation, address)
        # The first address the device told at each derivation path: the device the daemon
        # started with. A reconnect that finds another key there (a fake emulator, another
        # device plugged in) is refused, never signed with.
        self._pinned: dict[str, str] = {}
        self._swap_unnoticed = _swap_unnoticed(path)
        # Who held the emulator's port when its device was last confirmed (the kernel's view).
        self._confirmed_holder: object = None

    @property
    def pending(self) -> int:
        """Requests for the person queued or running."""
        return self._pending

    @property
    def connected(self) -> bool:
        """Whether the device has answered over the current link (signers connect lazily)."""
        return self._signer is not None and self.info is not None

    def _signer_now(self) -> Signer:
        """Open the device if needed (runs in the worker thread)."""
        signer = self._signer
        if signer is None:
            signer = self._open(self.path, allow_blind_signing=self._allow_blind)
            # Visible to the liveness watchdog before the first exchange with the device.
            with self._signer_lock:
                self._signer = signer
                self._generation += 1
            self.info = None
        if self.info is None:  # asked again if the first answer failed (e.g. locked device)
            self.info = signer.info
            self.last_error = None
        return signer

    def _drop_signer(self) -> None:
        with self._signer_lock:
            signer, self._signer = self._signer, None
        if signer is not None:
            try:
                signer.close()
            except Exception:
                LOG.debug("closing a broken signer failed", exc_info=True)

    def _call(self, op: Callable[[Signer], T], started: Callable[[], object]) -> T:
        started()
        try:
            return op(self._signer_now())
        except DeviceUnavailable as exc:
            self.last_error = str(exc)
            self._drop_signer()
            raise

    async def account(self, path: str, *, queue_timeout: float | None = None) -> str:
        """The device's address at ``path``, asked once per link (the answer stays on the loop)."""
        known = self.known_account(path)
        if known is not None:
            return known

        def ask(signer: Signer) -> tuple[int, str]:
            return self._generation, signer.get_address(path)

        generation, address = await self.run(ask, queue_timeout=queue_timeout, counted=False)
        self._check_pinned(path, address)
        self._accounts[path] = (generation, address)
        return address

    def confirm_device(self, signer: Signer, path: str) -> None:
        """DeviceMismatch unless ``signer`` is the device the daemon started with.

        Runs in the worker thread right before a review, on links that never notice their
        peer was replaced (an emulator's UDP port, which any local user could bind after it
        exits): the grant would otherwise be sent to an impostor. A device swapped behind a
        USB or TCP link breaks it; the new link's account is asked and checked again by
        ``account()``, so those reviews skip this extra question to the device.
        """
        if not self._swap_unnoticed:
            return
        # The same socket still bound to the port: the same process, no need to ask the device.
        holder = _port_holder(self.path)
        if holder is not None and holder == self._confirmed_holder:
            return
        self._check_pinned(path, signer.get_address(path))
        self._confirmed_holder = holder

    def _check_pinned(self, path: str, address: str) -> None:
        pinned = self._pinned.setdefault(path, address)
        if address.lower() != pinned.lower():
            self.last_error = (
                f"the device at {self.path} is not the one this daemon started with: its "
                f"address at {path} is {address}, expected {pinned}. Reconnect the original "
                "device, or restart signerd to use this one"
            )
            raise DeviceMismatch(self.last_error)

    def known_account(self, path: str) -> str | None:
        """The address at ``path`` if the device has told it over the current link."""
        cached = self._accounts.get(path)
        if cached is None or cached[0] != self._generation or self._signer is None:
            return None
        return cached[1]

    def forget_account(self) -> None:
        """Ask the device for its address again next time (its key no longer matched)."""
        self._accounts.clear()

    async def run(
        self,
        op: Callable[[Signer], T],
        *,
        timeout: float | None = None,
        queue_timeout: float | None = None,
        on_start: Callable[[], object] | None = None,
        counted: bool = True,
        owner: Hashable = None,
    ) -> T:
        """Run ``op(signer)`` in the worker thread when it is ``owner``'s turn (round robin
        over the owners with jobs waiting; None is the daemon's own questions).

        ``on_start`` is called on the event loop when the device starts the job. ``timeout``
        counts from then; when it runs out the operation is cancelled on the device and
        ApprovalTimeout is raised. A job still queued after ``queue_timeout`` is withdrawn
        (QueueTimeout). Cancelling the awaiting task (client gone, cancelRequest) withdraws
        or cancels the job the same way. ``counted``: whether ``pending`` includes the job
        (requests for the person do; quick questions to the device do not).
        """
        loop = asyncio.get_running_loop()
        queue_deadline = None if queue_timeout is None else loop.time() + queue_timeout
        self._pending += counted
        try:
            try:
                await self._turns.acquire(owner, queue_timeout)
            except TimeoutError:
                raise QueueTimeout(
                    f"the device stayed busy with earlier requests for {queue_timeout:.0f} s"
                ) from None
            try:
                return await self._run_turn(op, timeout, queue_timeout, queue_deadline, on_start)
            finally:
                self._turns.release()
        finally:
            self._pending -= counted

    async def _run_turn(
        self,
        op: Callable[[Signer], T],
        timeout: float | None,
        queue_timeout: float | None,
        queue_deadline: float | None,
        on_start: Callable[[], object] | None,
    ) -> T:
        """The job, on its turn: the device is free, unless an aborted job is still stuck on
        it (the queue deadline still applies)."""
        previous = self._last_job
        if previous is None or previous.done():
            # The thread is free: the job starts now. Not waiting for the thread to say so
            # spares a wake-up of the loop just as the device exchange begins.
            job = self._last_job = self._executor.submit(self._call, op, _nothing)
        else:
            started = await self._start_after_stuck_job(op, queue_deadline)
            if started is None:
                raise QueueTimeout(
                    f"the device stayed busy with earlier requests for {queue_timeout:.0f} s"
                )
            job = started
        if on_start is not None:
            on_start()
        try:
            return await self._watch(job, timeout)
        except TimeoutError:
            await self._abort(job)
            raise ApprovalTimeout(
                f"no answer on the device within {timeout:g} s; the request was cancelled"
            ) from None
        except _Vanished:
            await self._abort(job)
            raise DeviceUnavailable(
                f"the device at {self.path} stopped answering (unplugged or emulator stopped)"
            ) from None
        except asyncio.CancelledError:
            await self._abort(job)
            raise

    async def _start_after_stuck_job(
        self, op: Callable[[Signer], T], queue_deadline: float | None
    ) -> concurrent.futures.Future[T] | None:
        """Submit ``op`` behind an aborted job still stuck on the device, and wait until it
        starts; None if the queue deadline passed first (then it never will)."""
        loop = asyncio.get_running_loop()
        stuck = self._last_job
        started = asyncio.Event()
        job = self._executor.submit(self._call, op, lambda: loop.call_soon_threadsafe(started.set))
        self._last_job = job
        try:
            await asyncio.wait_for(started.wait(), _remaining(queue_deadline, loop))
        except TimeoutError:
            if job.cancel():
                self._last_job = stuck  # still there: the next job waits for it too
                return None
        except asyncio.CancelledError:
            if job.cancel():
                self._last_job = stuck
                raise
            await self._abort(job)
            raise
        return job

    async def _watch(self, job: concurrent.futures.Future[T], timeout: float | None) -> T:
        """The job's result; TimeoutError after ``timeout``; _Vanished if the device went away.

        While the person looks at the screen nothing crosses the link, and some links (UDP to
        an emulator) would never notice the other end is gone: ask the signer regularly.
        """
        loop = asyncio.get_running_loop()
        done = asyncio.wrap_future(job)
        # When this gives up (timeout, device gone, client gone) the job still ends later,
        # usually with Cancelled: retrieved here, or asyncio logs it as never retrieved.
        done.add_done_callback(_retrieve)
        deadline = None if timeout is None else loop.time() + timeout
        misses = 0
        while True:
            wait = LIVENESS_INTERVAL
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    raise TimeoutError
            try:
                return await asyncio.wait_for(asyncio.shield(done), wait)
            except TimeoutError:
                pass
            signer = self._signer
            alive = signer is None or await asyncio.to_thread(signer.is_alive)
            misses = 0 if alive else misses + 1
            if misses >= LIVENESS_MISSES:
                raise _Vanished

    async def _abort(self, job: concurrent.futures.Future[T]) -> None:
        """Cancel the running job on the device and wait until the device is free again."""
        if job.cancel():  # submitted to a free thread, but not started yet
            return
        signer = self._signer
        if signer is not None:
            signer.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job)), CANCEL_GRACE_SECONDS)
        except TimeoutError:
            LOG.warning("device did not answer the cancel; dropping the connection")
            await asyncio.to_thread(self._drop_signer)
        except (SignerdError, asyncio.CancelledError):
            pass  # the expected outcome: the signer reports the cancelled operation
        except Exception:
            LOG.debug("cancelled device job ended with an error", exc_info=True)

    async def connect(self) -> DeviceInfo:
        """Open the device now (e.g. at start-up) and return what it is."""
        # DeviceInfo is read in the worker thread: a signer may talk to the device to answer.
        return await self.run(lambda signer: signer.info, counted=False)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._drop_signer()


def _nothing() -> None:
    """The ``started`` callback of a job that starts at once."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's outcome as seen (``_abort`` reports what matters of it)."""
    if not future.cancelled():
        future.exception()


def _port_holder(path: str) -> object:
    """The kernel's (uid, inode) of the socket on a local emulator port; None if unknown."""
    try:
        host, port = find_by_path(path).host_port()
    except SignerdError:
        return None
    holder = udp_port_holder(host, port)
    return holder if isinstance(holder, tuple) else None


def _swap_unnoticed(path: str) -> bool:
    """Whether the link at ``path`` could be served by another device without noticing."""
    try:
        return not find_by_path(path).link.NOTICES_SWAP
    except SignerdError:
        return True  # not a path the registry knows (an injected test signer): check it


def _remaining(deadline: float | None, loop: asyncio.AbstractEventLoop) -> float | None:
    return None if deadline is None else max(deadline - loop.time(), 0.0)
