"""Socket activation: take over the listening socket systemd (or any launcher) passes in.

systemd's protocol (sd_listen_fds(3)): the sockets start at file descriptor 3,
``LISTEN_FDS`` says how many there are and ``LISTEN_PID`` which process they are for (a
variable inherited by a grandchild must not be taken for its own). No systemd library is
needed, and any launcher that follows the protocol works the same way.

What signerd checks before serving an inherited socket is what it checks of one it binds
itself: a Unix stream socket that is listening, at a filesystem path (an abstract address
has no permissions at all), in a directory of ours that nobody else may write to
(``safepath.private_directory``), the socket file ours (``check_socket_slot``); its mode is
then set as for a socket signerd creates (0600, or 0660 for a group).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from signerd.errors import UnsafePath, ValidationError
from signerd.safepath import check_socket_slot, private_directory

LOG = logging.getLogger(__name__)

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START
_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def inherited_socket() -> socket.socket | None:
    """The listening socket passed to this process, or None when nothing was passed.

    The variables are removed from the environment either way (as ``sd_listen_fds(1)``
    does), so no child of the daemon takes them for its own.
    """
    pid = os.environ.get("LISTEN_PID", "")
    count = os.environ.get("LISTEN_FDS", "")
    for name in _VARIABLES:
        os.environ.pop(name, None)
    if not pid or not count or pid != str(os.getpid()):
        return None
    if count != "1":
        raise ValidationError(
            "LISTEN_FDS",
            f"signerd serves one socket, {count} were passed: give the socket "
            "unit exactly one ListenStream",
        )
    try:
        sock = socket.socket(fileno=LISTEN_FDS_START)
    except OSError as exc:
        raise ValidationError("LISTEN_FDS", f"file descriptor 3 is not a socket ({exc})") from None
    try:
        _check(sock)
    except BaseException:
        sock.detach()  # not ours to close: the launcher's
        raise
    sock.setblocking(False)
    return sock


def _check(sock: socket.socket) -> None:
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValidationError("LISTEN_FDS", "the passed socket is not a Unix stream socket")
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise ValidationError("LISTEN_FDS", "the passed socket is not listening")
    address = sock.getsockname()
    if not isinstance(address, str) or not address or address.startswith("\0"):
        raise UnsafePath(
            "the passed socket has no filesystem path (an abstract address has no "
            "permissions): use a ListenStream path"
        )


def socket_path(sock: socket.socket) -> Path:
    """The filesystem path the (checked) socket listens on."""
    return Path(sock.getsockname())


def secure_inherited(sock: socket.socket, *, gid: int | None) -> Path:
    """Check where the inherited socket lives and give it signerd's mode; its path."""
    path = socket_path(sock)
    private_directory(path.parent, mode=0o700 if gid is None else 0o710, gid=gid)
    if not check_socket_slot(path):
        raise UnsafePath(f"{path}: the passed socket's file is gone; restart the socket unit")
    if gid is not None:
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    else:
        os.chmod(path, 0o600)
    return path


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve_inherited(
    sock: socket.socket, handle: Handler, configured: Path, *, gid: int | None
) -> tuple[asyncio.Server, Path]:
    """Serve ``handle`` on the checked inherited socket; the server and the socket's path
    (which wins over ``configured``: the unit names it)."""
    path = secure_inherited(sock, gid=gid)
    if path != configured:
        LOG.info("serving the passed socket %s, not %s", path, configured)
    # The reader's limit as for a socket signerd binds: the server splits lines itself.
    server = await asyncio.start_unix_server(handle, sock=sock, limit=64 * 1024)
    LOG.info("listening on %s (socket activation)", path)
    return server, path
