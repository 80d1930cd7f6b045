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


def udp_port_holder(host: str, port: int) -> tuple[int, int] | bool | None:
    """The (uid, socket inode) of the local UDP socket bound to ``port``; False if none is;
    None when ``host`` is not this machine or the kernel's tables cannot be read (then
    nothing can be told without sending). A restarted or replaced emulator binds a new
    socket, so its inode changes even when it comes back on the same port."""
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
            # "sl local_address rem_address st queues tr retrnsmt uid timeout inode ...",
            # local_address is HEXADDR:HEXPORT.
            fields = line.split()
            if len(fields) > 9 and fields[1].rsplit(":", 1)[-1] == wanted:
                return int(fields[7]), int(fields[9])
    return False if found_table else None


def udp_port_bound(host: str, port: int) -> bool | None:
    """True if a local UDP socket is bound to ``port``; None when ``host`` is not this machine
    (or the kernel's tables cannot be read): then nothing can be told without sending."""
    holder = udp_port_holder(host, port)
    return holder if holder is None or holder is False else True
