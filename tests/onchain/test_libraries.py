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


HALF_IMPORTED = """
import asyncio, os, sys, tempfile

folder = tempfile.mkdtemp()
with open(os.path.join(folder, "slow_library.py"), "w") as module:
    module.write("import time\\ntime.sleep(0.5)\\nREADY = True\\n")
sys.path.insert(0, folder)
from signerd.onchain.libraries import loaded


async def main():
    first = asyncio.create_task(loaded("slow_library"))
    await asyncio.sleep(0.2)
    # The thread is inside the module's import: it is in sys.modules, not usable yet.
    assert "slow_library" in sys.modules
    await loaded("slow_library")
    assert getattr(sys.modules["slow_library"], "READY", False), "returned half-imported"
    await first


asyncio.run(main())
"""


def test_a_caller_arriving_during_the_import_waits_for_it() -> None:
    # Returning at once would let its next `import` wait for the thread on the event loop.
    subprocess.run([sys.executable, "-c", HALF_IMPORTED], check=True, timeout=120)
