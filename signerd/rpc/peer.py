"""Who is on the other end of the Unix socket: SO_PEERCRED credentials, read by the kernel."""

from __future__ import annotations

import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("signerd.rpc.server")  # where the server's other lines are

_UCRED = struct.Struct("3i")  # struct ucred { pid_t pid; uid_t uid; gid_t gid; }


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int
    exe: str | None  # the peer's executable, if /proc lets us read it

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "uid": self.uid, "gid": self.gid, "exe": self.exe}


def peer_of(sock: socket.socket) -> Peer:
    """Credentials of the process that connected ``sock`` (captured by the kernel at connect)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid=pid, uid=uid, gid=gid, exe=_executable(pid))


def _executable(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


class RefusedPeers:
    """The log of connections from uids that are not served: the first of a uid at WARNING,
    then at most one line per ``interval`` seconds saying how many more came. A local user who
    can reach the socket but is not served could otherwise write a line per connect() into the
    journal (10,000 a second seen)."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._by_uid: dict[int, tuple[float, int]] = {}  # uid -> (last logged, refused since)

    def refused(self, peer: Peer) -> None:
        now = self._clock()
        logged = self._by_uid.get(peer.uid)
        if logged is not None and now - logged[0] < self._interval:
            self._by_uid[peer.uid] = (logged[0], logged[1] + 1)
            return
        more = f"; {logged[1]} more refused since the last line" if logged and logged[1] else ""
        LOG.warning("refused peer uid %d (pid %d, %s)%s", peer.uid, peer.pid, peer.exe, more)
        self._by_uid[peer.uid] = (now, 0)
