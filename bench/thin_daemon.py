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


async def serve(simulator_path: str, socket_path: Path) -> None:
    client = get_client(AppManifest(app_name="signerd-bench-thin"), get_transport(simulator_path))
    client.__enter__()  # one transport for every request, as a daemon keeps it
    session = client.get_session(passphrase=PassphraseSetting.AUTO)
    address_n = parse_path(DEFAULT_DERIVATION_PATH)
    device = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="device")
    loop = asyncio.get_running_loop()

    def sign(data: dict[str, Any]) -> bytes:
        return bytes(ethereum.sign_typed_data(session, address_n, data).signature)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            signature = await loop.run_in_executor(device, sign, request["params"])
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": "0x" + signature.hex()}
            writer.write(json.dumps(reply).encode() + b"\n")
        writer.close()

    server = await asyncio.start_unix_server(answer, str(socket_path))
    Path(f"{socket_path}.ready").touch()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], Path(sys.argv[2])))
