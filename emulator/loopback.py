"""Keep the real emulators on loopback: a bind patch for Speculos, a /proc check for both.

The real emulators' keys are public, so they must never be reachable from a network.
Speculos 0.27 binds 0.0.0.0 with no option to change it, so it starts behind
LOOPBACK_PATCH; and it silently moves its APDU server to a random port when its port is
taken. Both launchers run check_loopback once the emulator answers, and stop the emulator
if it fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from pathlib import Path

# Prepended to Speculos' entry point: a wildcard bind becomes a loopback bind. Plain source
# passed with `python -c`, so that it runs in whatever interpreter has Speculos installed.
LOOPBACK_PATCH = """\
import socket
_bind = socket.socket.bind
def _loopback_bind(self, address):
    if self.family == socket.AF_INET and address[0] in ("", "0.0.0.0"):
        address = ("127.0.0.1", *address[1:])
    elif self.family == socket.AF_INET6 and address[0] in ("", "::"):
        address = ("::1", *address[1:])
    return _bind(self, address)
socket.socket.bind = _loopback_bind
"""


def socket_inodes(pid: int) -> set[str]:
    """Inode numbers of every socket process `pid` holds open."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def proc_address(hex_address: str) -> tuple[str, int]:
    """ "0100007F:1F90" (address in host byte order per 32-bit word) -> ("127.0.0.1", 8080)."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words)), int(port, 16)


def bound_addresses(pid: int) -> set[tuple[str, str, int]]:
    """(protocol, address, port) of every socket process `pid` listens on (TCP) or binds (UDP)."""
    inodes = socket_inodes(pid)
    found: set[tuple[str, str, int]] = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            state, inode = fields[3], fields[9]
            # TCP state 0A is LISTEN; a UDP socket has no listen state, any bound one counts.
            if inode in inodes and (proto.startswith("udp") or state == "0A"):
                address, port = proc_address(fields[1])
                found.add((proto, address, port))
    return found


def check_loopback(pid: int, expected_ports: set[int]) -> None:
    """Raise RuntimeError unless `pid` listens on loopback only, on all of `expected_ports`."""
    addresses = bound_addresses(pid)
    exposed = sorted(a for a in addresses if not ipaddress.ip_address(a[1]).is_loopback)
    if exposed:
        raise RuntimeError(f"emulator listens beyond loopback: {exposed}")
    missing = expected_ports - {port for _, _, port in addresses}
    if missing:
        raise RuntimeError(f"emulator is not listening on ports {sorted(missing)}")
