"""Who is on the other end of the Unix socket: SO_PEERCRED credentials, read by the kernel."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from typing import Any

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
