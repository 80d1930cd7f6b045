"""The Unix-socket JSON-RPC server: framing, peer checks, one task per request.

Lines are split by hand with a bounded buffer, so an oversize or endless message costs the
daemon at most MAX_MESSAGE_BYTES of memory and gets an error instead of a crash. Replies are
bounded the same way: a client that stops reading is not read either (drain), and one whose
unread replies still pile up past MAX_WRITE_BUFFER is disconnected. A peer's uid is checked
with SO_PEERCRED before anything it sends is read. A client that disconnects has its
in-flight requests cancelled (on the device too, through the worker).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signerd.api import API, CallContext, Daemon
from signerd.api.registry import Registry
from signerd.config import Config
from signerd.errors import (
    Cancelled,
    InternalError,
    InvalidRequest,
    SignerdError,
    SocketInUse,
    TooManyConnections,
    UnauthorizedPeer,
)
from signerd.rpc import activation, protocol
from signerd.rpc.peer import Peer, RefusedPeers, peer_of
from signerd.safepath import check_socket_slot, private_directory

LOG = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
MAX_IN_FLIGHT_PER_CONNECTION = 32
# Unread replies kept for one client. Draining stops reading a client whose replies wait, but
# the requests already in flight still answer: up to 32 listGrants pages of ~0.4 MB each.
# Far above one reply of any method, so a client that reads is never cut off.
MAX_WRITE_BUFFER = 2 * 1024 * 1024
# Messages past LARGE_MESSAGE_BYTES (no valid request comes near) are received and parsed at
# most MAX_LARGE_MESSAGES at a time across all connections, so a crowd of clients streaming
# 1 MiB lines costs a bounded few tens of MB instead of ~3 MB each.
LARGE_MESSAGE_BYTES = 64 * 1024
MAX_LARGE_MESSAGES = 8


class Connection:
    """One client connection: its peer, its writer, and its in-flight request tasks."""

    def __init__(self, peer: Peer, writer: asyncio.StreamWriter) -> None:
        self.peer = peer
        self.writer = writer
        self.tasks: set[asyncio.Task[None]] = set()
        self.by_id: dict[int | str, asyncio.Task[None]] = {}  # pending requests that have an id
        self.withdrawn: dict[int | str, str] = {}  # id -> why it was cancelled (answered so)
        self.closed = False

    def withdraw(self, request_id: int | str, reason: str) -> bool:
        """Cancel a pending request; it is answered CANCELLED with ``reason``."""
        task = self.by_id.get(request_id)
        if task is None or task.done() or task is asyncio.current_task():
            return False
        self.withdrawn[request_id] = reason
        task.cancel()
        return True

    def send(self, data: bytes) -> None:
        if self.closed or self.writer.is_closing():
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            LOG.warning(
                "disconnecting pid %d: more than %d bytes of replies unread",
                self.peer.pid,
                MAX_WRITE_BUFFER,
            )
            self.closed = True
            # abort, not close: close would keep the unread replies until they are sent.
            self.writer.transport.abort()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send(protocol.notification_message(method, params))

    async def drain(self) -> None:
        if self.closed:
            return
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.closed = True


class RpcServer:
    """Serves the registered methods (signerd.api) on a Unix socket until stopped."""

    def __init__(self, daemon: Daemon, config: Config, api: Registry = API) -> None:
        self.daemon = daemon
        self.api = api
        self.config = config
        self.socket_path = config.socket_path
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._per_uid: collections.Counter[int] = collections.Counter()
        self._refused = RefusedPeers()
        self.large_messages = 0  # messages over LARGE_MESSAGE_BYTES being received or answered
        self.activated = False  # serving a socket passed by a launcher (systemd)

    async def start(self) -> None:
        inherited = activation.inherited_socket()
        if inherited is not None:  # systemd socket activation: the passed socket's path wins
            self._server, self.socket_path = await activation.serve_inherited(
                inherited, self._handle, self.socket_path, gid=self.config.socket_gid
            )
            self.activated = True
            return
        private_directory(
            self.socket_path.parent,
            mode=0o700 if self.config.socket_gid is None else 0o710,
            gid=self.config.socket_gid,
        )
        _remove_stale_socket(self.socket_path)
        # The umask makes the socket private from the moment it exists.
        old_umask = os.umask(0o177 if self.config.socket_gid is None else 0o117)
        try:
            # A backlog as large as the connection cap: a burst of agents connecting at once
            # must queue, not fail (a full backlog makes a non-blocking connect fail with EAGAIN).
            self._server = await asyncio.start_unix_server(
                self._handle,
                path=str(self.socket_path),
                limit=READ_CHUNK,
                backlog=self.config.max_connections,
            )
        finally:
            os.umask(old_umask)
        if self.config.socket_gid is not None:
            os.chown(self.socket_path, -1, self.config.socket_gid)
            os.chmod(self.socket_path, 0o660)
        else:
            os.chmod(self.socket_path, 0o600)
        LOG.info("listening on %s", self.socket_path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Pending requests are answered CANCELLED before their connections close.
        for conn in list(self._connections):
            for request_id in list(conn.by_id):
                conn.withdraw(request_id, "the daemon is shutting down")
            for task in list(conn.tasks):
                task.cancel()
        tasks = [t for conn in self._connections for t in conn.tasks]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for conn in list(self._connections):
            conn.closed = True
            conn.writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self.activated:
            return  # the socket stays with the launcher that passed it
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        LOG.info("stopped; removed %s", self.socket_path)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock: socket.socket = writer.get_extra_info("socket")
        try:
            peer = peer_of(sock)
        except OSError:
            writer.close()
            return
        if peer.uid not in self.config.allowed_uids:
            self._refused.refused(peer)
            error: SignerdError = UnauthorizedPeer(f"uid {peer.uid} is not served here")
            await _send_and_close(writer, protocol.error_message(None, error))
            return
        refusal = self._connection_refusal(peer.uid)
        if refusal is not None:
            await _send_and_close(writer, protocol.error_message(None, refusal))
            return
        conn = Connection(peer, writer)
        self._connections.add(conn)
        self._per_uid[peer.uid] += 1
        LOG.debug("connection from uid %d pid %d", peer.uid, peer.pid)
        try:
            await self._read_loop(conn, reader)
        finally:
            # EOF or error: the client is gone, so are its requests (cancelled on the device).
            for task in list(conn.tasks):
                task.cancel()
            if conn.tasks:
                await asyncio.gather(*conn.tasks, return_exceptions=True)
            conn.closed = True
            self._connections.discard(conn)
            self._per_uid[peer.uid] -= 1
            if not self._per_uid[peer.uid]:
                del self._per_uid[peer.uid]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _connection_refusal(self, uid: int) -> SignerdError | None:
        """TooManyConnections when the daemon, or this uid, is at its cap: the per-uid cap
        keeps one agent's idle connections from locking every other uid out."""
        if len(self._connections) >= self.config.max_connections:
            return TooManyConnections("too many connections; try again later")
        if self._per_uid[uid] >= self.config.max_connections_per_uid:
            return TooManyConnections(
                f"uid {uid} already has {self._per_uid[uid]} connections open"
                " (max_connections_per_uid); close some and try again",
                {"uid": uid, "limit": self.config.max_connections_per_uid},
            )
        return None

    async def _read_loop(self, conn: Connection, reader: asyncio.StreamReader) -> None:
        buffer = bytearray()
        discarding = False  # inside a refused message: drop bytes until its newline
        large = _LargeMessage(self)  # this connection's share of the large-message budget
        try:
            while True:
                try:
                    chunk = await reader.read(READ_CHUNK)
                except (ConnectionError, OSError):
                    return
                if not chunk:
                    return
                start = 0
                while True:
                    newline = chunk.find(b"\n", start)
                    if newline < 0:
                        break
                    piece = chunk[start:newline]
                    start = newline + 1
                    if discarding:
                        discarding = False
                        continue
                    refusal = large.admit(len(buffer) + len(piece))
                    if refusal is not None:
                        buffer.clear()
                        conn.send(protocol.error_message(None, refusal))
                        continue
                    buffer += piece
                    line = bytes(buffer).strip()
                    buffer.clear()
                    if line:
                        await self._dispatch(conn, line, large.hand_over())
                    large.release()
                rest = chunk[start:]
                if discarding:
                    continue
                refusal = large.admit(len(buffer) + len(rest))
                if refusal is not None:
                    buffer.clear()
                    discarding = True
                    conn.send(protocol.error_message(None, refusal))
                    continue
                buffer += rest
        finally:
            large.release()

    async def _dispatch(
        self, conn: Connection, line: bytes, release: Callable[[], None] | None = None
    ) -> None:
        """Answer ``line`` in its own task; ``release`` is called once the task is done."""
        if len(conn.tasks) >= MAX_IN_FLIGHT_PER_CONNECTION:
            error = InvalidRequest(
                f"more than {MAX_IN_FLIGHT_PER_CONNECTION} requests in flight on one connection"
            )
            conn.send(protocol.error_message(protocol.peek_id(line), error))
            if release is not None:
                release()
            await conn.drain()
            return
        task = asyncio.create_task(self._answer(conn, line))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)
        if release is not None:
            task.add_done_callback(lambda _: release())
        # Apply back-pressure to a client that sends faster than it reads replies.
        await conn.drain()

    async def _answer(self, conn: Connection, line: bytes) -> None:
        try:
            request = protocol.parse_request(line)
        except protocol.RequestRefused as refused:
            # Not a valid request, so not a notification either: always answered.
            conn.send(protocol.error_message(refused.request_id, refused.error))
            await conn.drain()
            return
        request_id = request.id
        if request_id is not None:
            conn.by_id[request_id] = asyncio.current_task()  # type: ignore[assignment]
        try:
            result = await self._call(conn, request)
            reply = protocol.result_message(request_id, result)
        except SignerdError as exc:
            reply = protocol.error_message(request_id, exc)
        except asyncio.CancelledError:
            reason = conn.withdrawn.pop(request_id, None) if request_id is not None else None
            if reason is None:
                raise  # the client is gone: nobody to answer
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            reply = protocol.error_message(request_id, Cancelled(reason))
        except Exception:
            LOG.exception("internal error answering a request")
            reply = protocol.error_message(request_id, InternalError("internal error; see log"))
        finally:
            if request_id is not None and conn.by_id.get(request_id) is asyncio.current_task():
                del conn.by_id[request_id]
        if request.is_notification:
            return  # JSON-RPC 2.0: a notification is never answered, not even with an error
        conn.send(reply)
        await conn.drain()

    async def _call(self, conn: Connection, request: protocol.Request) -> Any:
        ctx = CallContext(
            peer=conn.peer,
            request_id=request.id,
            notify=conn.notify,
            cancel=lambda request_id: conn.withdraw(request_id, "cancelled by the client"),
        )
        return await self.api.call(self.daemon, ctx, request.method, request.params)


async def _send_and_close(writer: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(data)
        await asyncio.wait_for(writer.drain(), 2)
    writer.close()


def _remove_stale_socket(path: Path) -> None:
    if not check_socket_slot(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            path.unlink(missing_ok=True)
            return
        raise
    finally:
        probe.close()
    raise SocketInUse(f"another signerd is already serving {path}")


class _LargeMessage:
    """One connection's hold on the server-wide budget of large messages in progress."""

    def __init__(self, server: RpcServer) -> None:
        self._server = server
        self._held = False

    def admit(self, size: int) -> SignerdError | None:
        """None if a message of ``size`` bytes may be received; otherwise the refusal."""
        if size > protocol.MAX_MESSAGE_BYTES:
            self.release()
            return InvalidRequest(
                f"message exceeds {protocol.MAX_MESSAGE_BYTES} bytes; it was discarded"
            )
        if size <= LARGE_MESSAGE_BYTES or self._held:
            return None
        if self._server.large_messages >= MAX_LARGE_MESSAGES:
            return InvalidRequest(
                f"too many messages over {LARGE_MESSAGE_BYTES} bytes in progress; "
                "this one was discarded, retry later"
            )
        self._server.large_messages += 1
        self._held = True
        return None

    def hand_over(self) -> Callable[[], None] | None:
        """Pass the hold to the task answering the message (released when it is done)."""
        if not self._held:
            return None
        self._held = False
        server = self._server

        def release() -> None:
            server.large_messages -= 1

        return release

    def release(self) -> None:
        if self._held:
            self._held = False
            self._server.large_messages -= 1
