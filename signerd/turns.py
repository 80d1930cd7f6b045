"""Turns at the device: round robin over the owners of waiting jobs (the worker's queue).

An owner is a requesting peer (uid and pid): an agent with several requests waiting does not
hold up another agent's first one, and within one owner requests go first come first served.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable


class Turns:
    """Whose job goes to the device next: round robin over owners, first come first served
    within one owner. Used on the event loop only."""

    def __init__(self) -> None:
        # Owners in turn order (a dict keeps insertion order); each with its waiting jobs.
        self._waiting: dict[Hashable, deque[asyncio.Future[None]]] = {}
        self._busy = False
        self._current: Hashable = None  # whose job has the device

    async def acquire(self, owner: Hashable, timeout: float | None) -> None:
        """Wait for this owner's turn; TimeoutError after ``timeout`` seconds."""
        if not self._busy and not self._waiting:
            self._busy, self._current = True, owner
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, deque()).append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout)
        except BaseException:
            if turn.done():
                self.release()  # handed the turn just as it gave up: pass it on
            else:
                turn.cancel()
                queue = self._waiting.get(owner)
                if queue is not None and turn in queue:
                    queue.remove(turn)
                    if not queue:
                        del self._waiting[owner]
            raise

    def release(self) -> None:
        """End the current turn and hand the next one to the owner whose turn it is."""
        if self._current in self._waiting:  # the owner just served goes to the back
            self._waiting[self._current] = self._waiting.pop(self._current)
        while self._waiting:
            owner = next(iter(self._waiting))
            queue = self._waiting.pop(owner)
            turn = queue.popleft()
            if queue:
                self._waiting[owner] = queue
            if not turn.done():
                turn.set_result(None)
                self._current = owner
                return
        self._busy = False
