"""Whether a UDP emulator is still there, asked without sending it anything.

trezor-emu-core answers every datagram on its wire port to the sender of the last datagram it
received (core/embed/io/usb/unix/sock.c keeps one peer address per port). A probe sent from a
second socket while a workflow waits for the person would therefore steal the workflow's
answer. Instead the kernel is asked: is a UDP socket still bound to the emulator's port?
An emulator that exits or is killed releases its port at once.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

_PROC_TABLES = (Path("/proc/net/udp"), Path("/proc/net/udp6"))


def udp_port_bound(host: str, port: int) -> bool | None:
    """True if a local UDP socket is bound to ``port``; None when ``host`` is not this machine
    (or the kernel's tables cannot be read): then nothing can be told without sending."""
    try:
        if not ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        if host != "localhost":
            return None
    wanted = f"{port:04X}"
    found_table = False
    for table in _PROC_TABLES:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        found_table = True
        for line in lines:
            fields = line.split()
            # "sl local_address rem_address st ...": local_address is HEXADDR:HEXPORT.
            if len(fields) > 1 and fields[1].rsplit(":", 1)[-1] == wanted:
                return True
    return False if found_table else None
