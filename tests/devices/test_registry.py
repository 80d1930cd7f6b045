"""The path registry: every path signerd takes, parsed in one place, USB paths USB only."""

from __future__ import annotations

import pytest

from signerd.devices import registry
from signerd.devices.registry import find_by_path, locate, open_signer
from signerd.errors import DeviceNotFound, ValidationError


@pytest.mark.parametrize(
    ("path", "family", "link", "target"),
    [
        ("udp:127.0.0.1:21324", "trezor", registry.TrezorUdp, "127.0.0.1:21324"),
        ("webusb:001:2", "trezor", registry.TrezorWebUsb, "001:2"),
        ("hid:/dev/hidraw3", "trezor", registry.TrezorHid, "/dev/hidraw3"),
        ("bridge:0001", "trezor", registry.TrezorBridge, "0001"),
        ("trezor:usb", "trezor", registry.TrezorFirstUsb, ""),
        ("trezor", "trezor", registry.TrezorFirstUsb, ""),
        ("trezor:auto", "trezor", registry.TrezorFirstUsb, ""),
        ("tcp:127.0.0.1:9999", "ledger", registry.LedgerTcp, "127.0.0.1:9999"),
        ("ledger:hid", "ledger", registry.LedgerHid, ""),
        ("ledger:hid:1-1:1.0", "ledger", registry.LedgerHid, "1-1:1.0"),
    ],
)
def test_every_path_form_is_parsed_by_its_link(
    path: str, family: str, link: type[registry.Link], target: str
) -> None:
    where = find_by_path(path)
    assert (where.path, where.family, where.link, where.target) == (path, family, link, target)


def test_ledger_model_hint() -> None:
    assert find_by_path("tcp:127.0.0.1:9999?model=stax").model == "Stax"
    assert find_by_path("ledger:hid?model=nanosp").model == "Nano S Plus"
    assert find_by_path("tcp:127.0.0.1:9999").model is None
    with pytest.raises(ValidationError, match="unknown Ledger model"):
        find_by_path("tcp:127.0.0.1:9999?model=nano9")


def test_malformed_and_unknown_paths_are_refused_without_io() -> None:
    with pytest.raises(ValidationError, match="expected tcp:HOST:PORT"):
        open_signer("tcp:localhost")
    with pytest.raises(ValidationError, match="unknown device path"):
        open_signer("serial:/dev/ttyUSB0")
    with pytest.raises(ValidationError, match="unknown device path"):
        find_by_path(registry.AUTO)  # "auto" is discovery's to resolve, never a link


def test_emulator_ports_are_never_usb() -> None:
    emulators = [link for link in registry.LINKS if issubclass(link, registry.EmulatorLink)]
    assert {link.DEFAULT_PATH for link in emulators} == set(registry.EMULATOR_PATHS)
    assert not any(link.USB for link in emulators)


def test_first_found_paths_take_the_first_usb_device_of_their_family(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listed = {
        registry.TrezorWebUsb: [],
        registry.TrezorHid: ["hid:0001"],
        registry.LedgerHid: ["ledger:hid:1-1:1.0"],
    }
    for link, paths in listed.items():
        monkeypatch.setattr(link, "enumerate", classmethod(lambda cls, paths=paths: paths))
    assert locate(find_by_path("trezor:usb")).path == "hid:0001"
    ledger = locate(find_by_path("ledger:hid?model=nanox"))
    assert (ledger.target, ledger.model) == ("1-1:1.0", "Nano X")
    explicit = find_by_path("ledger:hid:2-1:1.0")
    assert locate(explicit) is explicit
    monkeypatch.setattr(registry.TrezorHid, "enumerate", classmethod(lambda cls: []))
    with pytest.raises(DeviceNotFound, match="no Trezor found on USB"):
        locate(find_by_path("trezor"))
