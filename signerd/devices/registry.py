"""Device paths: every prefix signerd knows is parsed here, and nowhere else.

trezorlib's registry style: each link (one way of reaching a device) is a class with its
``PATH_PREFIX``, ``enumerate()`` (the paths present right now) and ``find_by_path()`` (a
path parsed into a DevicePath). The module's ``find_by_path()`` picks the class by prefix,
``open_signer()`` the family's signer; discovery and the signers ask this module and never
read a path's text themselves.

  udp:HOST[:PORT]            a Trezor emulator (trezor-emu-core, the simulated Trezor)
  webusb:BUS:ADDR, hid:PATH  a Trezor on USB (trezorlib's own paths)
  bridge:ID                  a Trezor through Trezor Bridge (trezord)
  trezor:usb                 the first Trezor on USB ("trezor" and "trezor:auto" mean the same)
  tcp:HOST:PORT              a Ledger emulator: Speculos' APDU port, the simulated Ledger
  ledger:hid[:HIDPATH]       a Ledger on USB HID (without HIDPATH: the first one found)
  auto                       the only device discovery finds (discovery.resolve_device)

A Ledger path may end in ``?model=NAME`` (nanos, nanosp, nanox, stax, flex) to name the model
where the link cannot tell (Speculos). A USB path means USB only: an emulator's port, which
any local user can bind, is used only where the path names it (DESIGN.md).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal
from urllib.parse import parse_qs

from signerd.devices.liveness import udp_port_bound
from signerd.errors import DeviceNotFound, ValidationError

if TYPE_CHECKING:
    from signerd.devices.base import Signer

LOG = logging.getLogger(__name__)

Family = Literal["trezor", "ledger"]

AUTO = "auto"

# "?model=" values of a Ledger path -> the model's name.
LEDGER_MODEL_HINTS = {
    "nanos": "Nano S",
    "nanosp": "Nano S Plus",
    "nanox": "Nano X",
    "stax": "Stax",
    "flex": "Flex",
}

# How long discovery waits for Speculos' port to accept: it probes every default port in turn.
PROBE_TIMEOUT = 0.2


@dataclass(frozen=True)
class DevicePath:
    """A device path, parsed: which link reaches the device, and where on that link."""

    path: str  # as given, e.g. "tcp:127.0.0.1:9999?model=stax"
    link: type[Link]
    target: str  # after the prefix, e.g. "127.0.0.1:9999"; "" = the first device found
    model: str | None = None  # a Ledger model named by "?model="

    @property
    def family(self) -> Family:
        return self.link.FAMILY

    @property
    def usb(self) -> bool:
        return self.link.USB

    def host_port(self) -> tuple[str, int]:
        """(host, port) of a network link's target."""
        host, _, port = self.target.rpartition(":")
        if not host or not port.isdigit():
            prefix = self.link.PATH_PREFIX
            raise ValidationError("path", f"expected {prefix}:HOST:PORT, got {self.path!r}")
        return host, int(port)

    def is_alive(self) -> bool:
        """Whether the device still answers; see Link.is_alive."""
        return self.link.is_alive(self)


class Link:
    """One way of reaching a device; subclasses are the registry's entries."""

    PATH_PREFIX: ClassVar[str]
    FAMILY: ClassVar[Family]
    USB: ClassVar[bool] = False
    # Whether a device replaced behind the link breaks it (USB, TCP: the daemon reconnects and
    # asks the new device who it is); a datagram port serves whoever binds it next.
    NOTICES_SWAP: ClassVar[bool] = True
    ALIASES: ClassVar[tuple[str, ...]] = ()  # other spellings of the bare prefix

    @classmethod
    def matches(cls, path: str) -> bool:
        return path in (cls.PATH_PREFIX, *cls.ALIASES) or path.startswith(cls.PATH_PREFIX + ":")

    @classmethod
    def enumerate(cls) -> list[str]:
        """Paths of the devices on this link now; [] where listing would mean asking around
        (emulator ports, Trezor Bridge) or where the devices appear under another link."""
        return []

    @classmethod
    def find_by_path(cls, path: str) -> DevicePath:
        target = "" if path in cls.ALIASES else path[len(cls.PATH_PREFIX) :].removeprefix(":")
        return DevicePath(path, cls, target)

    @classmethod
    def is_alive(cls, where: DevicePath) -> bool:
        """Whether the device still answers, asked beside the open link (never on it).

        Links that report a vanished device by themselves (USB, TCP) answer True unasked.
        """
        return True


class EmulatorLink(Link):
    """An emulator's network port: used only where a path names it, or discovery is asked."""

    DEFAULT_PATH: ClassVar[str]

    @classmethod
    def answers(cls, where: DevicePath) -> bool:
        """Whether something answers at the path now (a short probe on its own socket)."""
        raise NotImplementedError


# -- Trezor ---------------------------------------------------------------------------------


class TrezorUdp(EmulatorLink):
    PATH_PREFIX = "udp"
    FAMILY = "trezor"
    NOTICES_SWAP = False
    DEFAULT_PATH = "udp:127.0.0.1:21324"

    @classmethod
    def answers(cls, where: DevicePath) -> bool:
        from trezorlib.transport.udp import UdpTransport

        try:
            with UdpTransport(where.target) as probe:
                return bool(probe.is_ready())
        except Exception:
            return False

    @classmethod
    def is_alive(cls, where: DevicePath) -> bool:
        # UDP never reports a dead peer while the link only listens, and a datagram sent to
        # the wire port would redirect the emulator's answers (see liveness.py): ask the
        # kernel whether the port is still bound. A remote emulator cannot be told.
        host, port = where.host_port()
        return udp_port_bound(host, port) is not False


class TrezorWebUsb(Link):
    PATH_PREFIX = "webusb"
    FAMILY = "trezor"
    USB = True

    @classmethod
    def enumerate(cls) -> list[str]:
        from trezorlib.transport.webusb import WebUsbTransport

        return [str(t.get_path()) for t in WebUsbTransport.enumerate()]


class TrezorHid(Link):
    PATH_PREFIX = "hid"
    FAMILY = "trezor"
    USB = True

    @classmethod
    def enumerate(cls) -> list[str]:
        from trezorlib.transport.hid import HidTransport

        return [str(t.get_path()) for t in HidTransport.enumerate()]


class TrezorBridge(Link):
    PATH_PREFIX = "bridge"
    FAMILY = "trezor"


class TrezorFirstUsb(Link):
    """The first Trezor on USB (WebUSB or HID); the device itself is listed under its path."""

    PATH_PREFIX = "trezor:usb"
    FAMILY = "trezor"
    USB = True
    ALIASES = ("trezor", "trezor:auto")


# -- Ledger ---------------------------------------------------------------------------------


class LedgerLink(Link):
    """A Ledger link: its paths may end in "?model=NAME"."""

    FAMILY = "ledger"

    @classmethod
    def matches(cls, path: str) -> bool:
        return super().matches(path.partition("?")[0])

    @classmethod
    def find_by_path(cls, path: str) -> DevicePath:
        base, _, query = path.partition("?")
        hint = parse_qs(query).get("model", [None])[0]
        if hint is not None and hint not in LEDGER_MODEL_HINTS:
            raise ValidationError("path", f"unknown Ledger model {hint!r}")
        target = base[len(cls.PATH_PREFIX) :].removeprefix(":")
        return DevicePath(path, cls, target, LEDGER_MODEL_HINTS[hint] if hint else None)


class LedgerTcp(LedgerLink, EmulatorLink):
    PATH_PREFIX = "tcp"
    DEFAULT_PATH = "tcp:127.0.0.1:9999"

    @classmethod
    def find_by_path(cls, path: str) -> DevicePath:
        where = super().find_by_path(path)
        where.host_port()  # a malformed path is refused now, not at the first operation
        return where

    @classmethod
    def answers(cls, where: DevicePath) -> bool:
        # Only during discovery: Speculos serves one APDU client, so connecting displaces
        # the current one (is_alive keeps the default and never connects).
        try:
            with socket.create_connection(where.host_port(), timeout=PROBE_TIMEOUT):
                return True
        except OSError:
            return False


class LedgerHid(LedgerLink):
    PATH_PREFIX = "ledger:hid"
    USB = True

    @classmethod
    def enumerate(cls) -> list[str]:
        from signerd.devices.ledger.transport import enumerate_hid

        return [f"{cls.PATH_PREFIX}:{record['path'].decode()}" for record in enumerate_hid()]


LINKS: tuple[type[Link], ...] = (
    TrezorUdp,
    TrezorWebUsb,
    TrezorHid,
    TrezorBridge,
    TrezorFirstUsb,
    LedgerTcp,
    LedgerHid,
)

# Emulators on their default ports: trezor-emu-core (UDP) and Speculos' APDU port (TCP).
EMULATOR_PATHS: tuple[str, ...] = tuple(
    link.DEFAULT_PATH for link in LINKS if issubclass(link, EmulatorLink)
)


def find_by_path(path: str) -> DevicePath:
    """The path parsed by the link its prefix names; ValidationError ("path") for an
    unknown prefix: a mistyped path is the user's input, not a device to wait for."""
    for link in LINKS:
        if link.matches(path):
            return link.find_by_path(path)
    raise ValidationError(
        "path",
        f"unknown device path {path!r}: expected udp:, webusb:, hid:, bridge:, trezor:usb "
        "(Trezor) or tcp:HOST:PORT, ledger:hid (Ledger)",
    )


def usb_paths(family: Family | None = None) -> list[str]:
    """Paths of the devices on USB now (of one family, or all); a missing backend lists none."""
    paths: list[str] = []
    for link in LINKS:
        if not link.USB or family not in (None, link.FAMILY):
            continue
        try:
            paths += link.enumerate()
        except Exception as exc:  # no libusb / hidapi backend on this machine
            LOG.debug("%s enumeration failed: %s", link.__name__, exc)
    return paths


def locate(where: DevicePath) -> DevicePath:
    """``where``, or for a first-found path (trezor:usb, ledger:hid) the first such device."""
    if where.target or not where.usb:  # a bare "udp:" is trezorlib's default port, not USB
        return where
    found = usb_paths(where.family)
    if not found:
        raise DeviceNotFound(
            f"no {where.family.capitalize()} found on USB for {where.path} (plugged in and "
            "unlocked? udev rules installed? see udev/README.md)"
        )
    return replace(find_by_path(found[0]), model=where.model)


def answers(path: str) -> bool:
    """Whether an emulator answers at ``path`` now; False for any other kind of path."""
    where = find_by_path(path)
    return issubclass(where.link, EmulatorLink) and where.link.answers(where)


def open_signer(path: str, *, allow_blind_signing: bool = False) -> Signer:
    """The signer of the device at ``path``, chosen by the path's prefix; no I/O yet."""
    where = find_by_path(path)
    if where.family == "trezor":
        from signerd.devices.trezor import TrezorSigner

        return TrezorSigner(path, allow_blind_signing=allow_blind_signing)
    from signerd.devices.ledger import LedgerSigner

    return LedgerSigner(path, allow_blind_signing=allow_blind_signing)
