"""Speculos' two faces for the simulated app: the APDU TCP port and the REST API.

APDU port (speculos/mcu/apdu.py): each command is a 4-byte big-endian length then the APDU;
each reply is a 4-byte big-endian length of the response data (status word excluded), the
data, then the 2-byte status word. One client at a time: a new connection replaces the old
one, and a reply goes to whichever client is connected when the app answers.

REST API (subset of speculos/api): POST /button/{left,right,both} {"action":
"press-and-release"|"press"|"release"}, GET /events[?currentscreenonly=true], DELETE /events,
GET /model. Extensions of the simulator, since the real app's settings are menus and its
approvals are people:
  POST /auto     {"mode": "approve"|"reject"|null}   answer every review at once (or not)
  GET|POST /settings {"raw_messages": bool, "blind_signing": bool}
  POST /state    {"state": "app"|"dashboard"|"locked"}  open/close the app, lock/unlock
POST /automation (Speculos' rule files) is not simulated: it answers 501.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from emulator.ledger.app import MODELS, EthereumApp

log = logging.getLogger(__name__)

MAX_APDU = 4096  # a Ledger APDU is at most 5 + 255 bytes; anything far bigger is garbage


@dataclass(frozen=True)
class Faults:
    """Misbehaviours for failure tests."""

    drop_after: int | None = None  # after N answered APDUs, drop connections instead
    stall: bool = False  # read APDUs, never answer
    garbage: bool = False  # answer with a malformed frame


class ApduServer:
    """The APDU TCP port: reader threads feed one app worker, as Speculos' single SE does."""

    def __init__(self, app: EthereumApp, host: str, port: int, faults: Faults) -> None:
        self.app = app
        self.faults = faults
        self._listener = socket.create_server((host, port))
        self._client: socket.socket | None = None
        self._client_lock = threading.Lock()
        self._queue: queue.Queue[tuple[socket.socket, bytes]] = queue.Queue()
        self._answered = 0

    def serve_forever(self) -> None:
        threading.Thread(target=self._worker, name="ledger-app", daemon=True).start()
        while True:
            conn, _ = self._listener.accept()
            with self._client_lock:
                old, self._client = self._client, conn
            if old is not None:
                log.info("a new APDU client replaces the previous one")
                _close(old)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        while True:
            header = _recv_exact(conn, 4)
            if header is None:
                break
            size = int.from_bytes(header, "big")
            if size > MAX_APDU:
                log.warning("APDU frame of %d bytes: closing the connection", size)
                break
            apdu = _recv_exact(conn, size)
            if apdu is None:
                break
            self._queue.put((conn, apdu))
        with self._client_lock:
            if self._client is conn:
                self._client = None
        _close(conn)

    def _worker(self) -> None:
        while True:
            conn, apdu = self._queue.get()
            log.info("> %s", apdu.hex())
            if self.faults.stall:
                continue
            if self.faults.drop_after is not None and self._answered >= self.faults.drop_after:
                log.info("fault: dropping the connection")
                _close(conn)
                continue
            reply = self.app.handle(apdu)
            self._answered += 1
            log.info("< %s", reply.hex())
            if self.faults.garbage:
                frame = b"\xde\xad\xbe\xef" + os.urandom(16)
            else:
                frame = (len(reply) - 2).to_bytes(4, "big") + reply
            with self._client_lock:
                target = self._client
            if target is not None:
                with contextlib.suppress(OSError):
                    target.sendall(frame)

    def close(self) -> None:
        _close(self._listener)


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        try:
            chunk = conn.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _RestHandler(BaseHTTPRequestHandler):
    server: RestServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("REST %s", format % args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 65536:
            raise ValueError("body too large")
        raw = self.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return body

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        app = self.server.app
        if url.path == "/events":
            current = parse_qs(url.query).get("currentscreenonly", ["false"])[0] == "true"
            self._reply(200, {"events": app.screen.events(current_only=current)})
        elif url.path == "/model":
            _, width, height, _ = MODELS[app.model]
            self._reply(200, {"name": app.model, "screen": {"width": width, "height": height}})
        elif url.path == "/settings":
            self._reply(200, _settings(app))
        else:
            self._reply(404, {"error": f"no resource {url.path}"})

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == "/events":
            self.server.app.screen.clear_events()
            self._reply(200, {})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        app = self.server.app
        try:
            body = self._json()
        except ValueError as exc:
            self._reply(400, {"error": str(exc)})
            return
        if path.startswith("/button/"):
            button = path.rsplit("/", 1)[1]
            action = body.get("action")
            if button not in ("left", "right", "both") or action not in (
                "press-and-release",
                "press",
                "release",
            ):
                self._reply(400, {"error": "bad button or action"})
                return
            if action == "press-and-release":
                app.screen.press(button)
            else:
                for b in ("left", "right") if button == "both" else (button,):
                    app.screen.hold(b, action == "press")
            self._reply(200, {})
        elif path == "/auto":
            mode = body.get("mode")
            if mode not in ("approve", "reject", None):
                self._reply(400, {"error": "mode is approve, reject or null"})
                return
            app.screen.auto = mode
            if mode is not None:
                app.screen.decide(mode == "approve")
            self._reply(200, {"mode": mode})
        elif path == "/settings":
            for name in ("raw_messages", "blind_signing"):
                if name in body:
                    if not isinstance(body[name], bool):
                        self._reply(400, {"error": f"{name} must be a boolean"})
                        return
                    setattr(app.settings, name, body[name])
            self._reply(200, _settings(app))
        elif path == "/state":
            state = body.get("state")
            if state not in ("app", "dashboard", "locked"):
                self._reply(400, {"error": "state is app, dashboard or locked"})
                return
            app.state = state
            self._reply(200, {"state": state})
        elif path == "/automation":
            self._reply(501, {"error": "automation rules are not simulated: use POST /auto"})
        else:
            self._reply(404, {"error": f"no resource {path}"})


def _settings(app: EthereumApp) -> dict[str, Any]:
    return {
        "raw_messages": app.settings.raw_messages,
        "blind_signing": app.settings.blind_signing,
    }


class RestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: EthereumApp, host: str, port: int) -> None:
        self.app = app
        super().__init__((host, port), _RestHandler)
