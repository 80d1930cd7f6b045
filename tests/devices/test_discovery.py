"""Device discovery: the USB id table matches the udev rules; emulators are found and asked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.devices import discovery
from signerd.errors import DeviceNotFound

RULES = Path(__file__).parents[2] / "udev" / "60-signerd-hardware-wallets.rules"


def rule_ids() -> set[tuple[int, int | None]]:
    ids: set[tuple[int, int | None]] = set()
    for line in RULES.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        vendor = re.search(r'idVendor}=="([0-9a-f]{4})"', line)
        product = re.search(r'idProduct}=="([0-9a-f]{4})"', line)
        assert vendor, line
        assert 'TAG+="uaccess"' in line and 'GROUP="plugdev"' in line, line
        ids.add((int(vendor.group(1), 16), int(product.group(1), 16) if product else None))
    return ids


def test_udev_rules_cover_exactly_the_discovery_table() -> None:
    table = {(u.vendor, u.product) for u in discovery.USB_IDS}
    assert rule_ids() == table


def test_emulators_are_listed_with_model_and_capability(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        TrezorSimulatorProcess(log_path=tmp_path / "t.log") as trezor,
        LedgerSimulatorProcess(model="stax", log_path=tmp_path / "l.log") as ledger,
    ):
        monkeypatch.setattr(discovery, "EMULATOR_PATHS", (trezor.path, ledger.path))
        monkeypatch.setattr(discovery, "usb_paths", list)
        assert discovery.discover() == []  # emulators only when asked for, like HWI's
        found = {d.path: d for d in discovery.discover(emulators=True)}
        assert found[trezor.path].family == "trezor"
        assert found[trezor.path].model == "Safe 3"
        assert found[trezor.path].shows_typed_data_fields is True
        assert found[ledger.path].family == "ledger"
        assert found[ledger.path].error is None
        # Any local user can bind an emulator's port: "auto" never picks one.
        with pytest.raises(DeviceNotFound, match="no device found"):
            discovery.resolve_device("auto")
    assert discovery.resolve_device("udp:127.0.0.1:1") == "udp:127.0.0.1:1"


def test_no_device_explains_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "EMULATOR_PATHS", ("udp:127.0.0.1:9", "tcp:127.0.0.1:9"))
    monkeypatch.setattr(discovery, "usb_paths", list)
    with pytest.raises(DeviceNotFound, match="udev rules"):
        discovery.resolve_device("auto")
