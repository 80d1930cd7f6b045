"""signerd.onchain.libraries: the on-chain libraries are imported in a thread, not on the loop."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import asyncio, sys, threading

importers = {}


class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("eth_abi", "web3"):
            importers[name] = threading.current_thread() is threading.main_thread()
        return None


sys.meta_path.insert(0, Spy())
from signerd.onchain.libraries import loaded


threads = []
to_thread = asyncio.to_thread


async def counted(*args, **kwargs):
    threads.append(args)
    return await to_thread(*args, **kwargs)


asyncio.to_thread = counted


async def main():
    await loaded("eth_abi.abi", "web3")
    assert "eth_abi.abi" in sys.modules and "web3" in sys.modules
    await loaded("eth_abi.abi", "web3")  # imported already: no thread hop
    assert len(threads) == 1, threads


asyncio.run(main())
assert importers == {"eth_abi": False, "web3": False}, importers
"""


def test_the_onchain_libraries_are_imported_off_the_event_loop() -> None:
    subprocess.run([sys.executable, "-c", SCRIPT], check=True, timeout=120)
