"""The thinnest daemon in front of a device: the floor of benchmark 1 (grant round trip).

What any local signing daemon must do at the least, and nothing more: accept a JSON line on a
Unix socket, hand the typed data to one device thread (the event loop must stay free while
the person reviews), have trezorlib sign it, and answer one JSON line. No parsing beyond
json.loads, no policy, no store, no audit, no signature check.

Its round trip against trezorlib called directly in the benchmark's own process is the part
of signerd's overhead that is not signerd's: a second process and a thread hand-off, as the
machine schedules them. Run as ``python -m bench.thin_daemon SIMULATOR_PATH SOCKET_PATH``;
it writes ``SOCKET_PATH.ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sys
from pathlib import Path
from typing import Any

from trezorlib import ethereum
from trezorlib.client import AppManifest, PassphraseSetting, get_client
from trezorlib.tools import parse_path
from trezorlib.transport import get_transport

from signerd.devices.base import DEFAULT_DERIVATION_PATH


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


async def serve(simulator_path: str, socket_path: Path) -> None:
    signer = DirectSigner(simulator_path, "signerd-bench-thin")
    device = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="device")
    loop = asyncio.get_running_loop()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            signature = await loop.run_in_executor(device, signer.signature, request["params"])
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": "0x" + signature.hex()}
            writer.write(json.dumps(reply).encode() + b"\n")
        writer.close()

    server = await asyncio.start_unix_server(answer, str(socket_path))
    Path(f"{socket_path}.ready").touch()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], Path(sys.argv[2])))
