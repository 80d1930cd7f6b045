"""The thinnest daemon in front of a device: the floor of benchmark 1 (grant round trip).

What any local signing daemon must do at the least, and nothing more: accept a JSON line on a
Unix socket, hand the typed data to one device thread (the event loop must stay free while
the person reviews), have trezorlib sign it, and answer one JSON line. No parsing beyond
json.loads, no policy, no store, no audit, no signature check.

Its round trip against trezorlib called directly in the benchmark's own process is the part
of signerd's overhead that is not signerd's: a second process and a thread hand-off, as the
machine schedules them.

``--durable`` adds the least a daemon must do for what it signed to survive a power loss
before it answers: the device thread writes the request and its signature into a slot of a
file filled in advance (no allocation, no metadata to journal) and ``fdatasync``s it. No
SQLite, no index, no audit chain: that one sync is the floor of any daemon whose answer is on
disk when the agent holds it, as signerd's grants are.

Run as ``python -m bench.thin_daemon [--durable] SIMULATOR_PATH SOCKET_PATH``; it writes
``SOCKET_PATH.ready`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
from pathlib import Path
from typing import Any, Final

from trezorlib import ethereum
from trezorlib.client import AppManifest, PassphraseSetting, get_client
from trezorlib.tools import parse_path
from trezorlib.transport import get_transport

from signerd.devices.base import DEFAULT_DERIVATION_PATH

# The durable record's ring: 128 slots of 8 KiB (a request of the benchmark's is ~2 KiB).
SLOT_BYTES: Final = 8192
SLOTS: Final = 128


class DirectSigner:
    """trezorlib on its own transport and session, as an application without signerd would
    use it (the benchmark's direct path, and this daemon's device)."""

    def __init__(self, path: str, app_name: str) -> None:
        self.address_n = parse_path(DEFAULT_DERIVATION_PATH)
        self.client = get_client(AppManifest(app_name=app_name), get_transport(path))
        self.client.__enter__()  # keep the transport open across calls, as a daemon does
        self.session = self.client.get_session(passphrase=PassphraseSetting.AUTO)

    def signature(self, data: dict[str, Any]) -> bytes:
        """One ethereum.sign_typed_data."""
        signature = bytes(ethereum.sign_typed_data(self.session, self.address_n, data).signature)
        if len(signature) != 65:
            raise RuntimeError("trezorlib returned a malformed signature")
        return signature

    def close(self) -> None:
        self.client.__exit__(None, None, None)


class SyncedRing:
    """Records written in place into a file filled in advance, each synced before it returns."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.write(self.fd, bytes(SLOT_BYTES * SLOTS))
        os.fsync(self.fd)
        self.next = 0

    def write(self, record: bytes) -> None:
        """``record`` on disk (one pwrite, one fdatasync)."""
        if len(record) > SLOT_BYTES:
            raise ValueError(f"a record of {len(record)} bytes does not fit a slot")
        os.pwrite(self.fd, record.ljust(SLOT_BYTES, b"\0"), self.next * SLOT_BYTES)
        os.fdatasync(self.fd)
        self.next = (self.next + 1) % SLOTS


async def serve(simulator_path: str, socket_path: Path, durable: bool) -> None:
    signer = DirectSigner(simulator_path, "signerd-bench-thin")
    ring = SyncedRing(Path(f"{socket_path}.ring")) if durable else None
    device = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="device")
    loop = asyncio.get_running_loop()

    def sign(line: bytes, data: dict[str, Any]) -> bytes:
        signature = signer.signature(data)
        if ring is not None:  # on the device thread: no further hand-off
            ring.write(line + signature)
        return signature

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            signature = await loop.run_in_executor(device, sign, line, request["params"])
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": "0x" + signature.hex()}
            writer.write(json.dumps(reply).encode() + b"\n")
        writer.close()

    server = await asyncio.start_unix_server(answer, str(socket_path))
    Path(f"{socket_path}.ready").touch()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="The thinnest daemon in front of a device.")
    parser.add_argument("--durable", action="store_true", help="sync each answer before it")
    parser.add_argument("simulator_path")
    parser.add_argument("socket_path", type=Path)
    args = parser.parse_args()
    asyncio.run(serve(args.simulator_path, args.socket_path, args.durable))


if __name__ == "__main__":
    main()
