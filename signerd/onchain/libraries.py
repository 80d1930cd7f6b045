"""The on-chain libraries, imported in a thread before an on-chain flow first needs them.

The daemon starts without eth-abi (and eth-utils with it), web3 or eth-account
(tests/test_startup_imports.py). The first delegation, top-up, on-chain disable or ERC-7715
call of a daemon run would otherwise import them on the event loop: a few hundred
milliseconds in which no other client is answered. ``loaded`` imports what is missing in a
thread first; once they are in, it returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys

# Imports under way in a thread. A module is in sys.modules from the moment its import starts,
# so while one of these runs, finding a name there does not mean the module can be used yet.
_IMPORTING: set[asyncio.Future[None]] = set()


async def loaded(*modules: str) -> None:
    """Import ``modules`` (dotted names) in a thread, those not imported yet; an import
    another caller started is waited for first."""
    while _IMPORTING:
        await asyncio.shield(next(iter(_IMPORTING)))
    missing = [name for name in modules if name not in sys.modules]
    if missing:
        future = asyncio.ensure_future(asyncio.to_thread(_import, missing))
        _IMPORTING.add(future)
        future.add_done_callback(_IMPORTING.discard)
        await asyncio.shield(future)


def _import(modules: list[str]) -> None:
    for name in modules:
        # web3 is the onchain extra: where it is missing, the flow says so when it needs it.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
