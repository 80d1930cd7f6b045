"""Keep the daemon's memory out of core dumps (it briefly holds generated session keys), and
give it file descriptors enough for a flood of connections.

``signerd serve`` calls ``no_core_dumps()`` and ``room_for_connections()`` first.
RLIMIT_CORE 0 stops the kernel writing a core file; PR_SET_DUMPABLE 0 also keeps a core
handler (systemd-coredump, apport: a pipe in core_pattern, which ignores the limit) and
other processes of the same uid (ptrace, /proc/PID/mem) away from it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import resource

LOG = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4  # <linux/prctl.h>
PR_GET_DUMPABLE = 3


def no_core_dumps() -> None:
    """No core file of this process, and not dumpable; logged (not fatal) where refused."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if _prctl(PR_SET_DUMPABLE, 0) != 0:
        LOG.warning("could not mark the daemon not dumpable (prctl PR_SET_DUMPABLE failed)")


# Descriptors the daemon wants: max_connections (512) open at once, plus refused connections
# not yet closed while a peer floods connect/close (10,000 a second seen), plus the store's.
WANTED_FILES = 16_384


def room_for_connections() -> None:
    """Raise the soft RLIMIT_NOFILE towards WANTED_FILES (within the hard limit). At the
    usual 1024, a local peer opening and closing connections as fast as it can ran the daemon
    out of descriptors: asyncio then logs a traceback per failed accept, and every client
    of the daemon is refused meanwhile."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_FILES if hard == resource.RLIM_INFINITY else min(WANTED_FILES, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def dumpable() -> int:
    """This process's dumpable flag (0: not dumpable); -1 where prctl is unavailable."""
    return _prctl(PR_GET_DUMPABLE, 0)


def _prctl(option: int, arg: int) -> int:
    name = ctypes.util.find_library("c")
    if name is None:
        return -1
    libc = ctypes.CDLL(name, use_errno=True)
    result: int = libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)
    return result
