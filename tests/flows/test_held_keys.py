"""Held session keys on the simulated devices and in the real daemon process.

Per family (simulated Trezor: CipherKeyValue; simulated Ledger: the keystore's EIP-712
struct): a held-key grant, a restart, the unlock on the device, a signature that recovers,
and another seed refused. Then `signerd serve` with debug logging: the plaintext of every
held key (recomputed here from the mnemonic, as the design documents it) is nowhere in the
data directory, the logs, the audit output or the replies.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.api import API, CallContext
from signerd.client import Client
from signerd.config import Config
from signerd.daemon import assemble
from signerd.errors import KeysLocked, KeysWrongDevice
from signerd.payments import keystore
from signerd.rpc.peer import Peer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.hardening.support import verbose_daemon
from tests.payments.test_keystore import OTHER_MNEMONIC, held_params, recovers, slip11_reference
from tests.support import signerd_cli, start_simulator

PEER = Peer(pid=4242, uid=1000, gid=1000, exe="/usr/bin/agent")


class Parts:
    """The daemon's parts in process, on a device path."""

    def __init__(self, path: str, data_dir: Path) -> None:
        config = Config(device=path, data_dir=data_dir)
        store = Store.open(data_dir)
        worker = DeviceWorker(path)
        self.daemon = assemble(config, worker, store)
        self.progress: list[str] = []

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        ctx = CallContext(
            peer=PEER,
            request_id=1,
            notify=lambda _m, p: self.progress.append(p["message"]),
            cancel=lambda _id: False,
        )
        return await API.call(self.daemon, ctx, method, params)

    def close(self) -> None:
        self.daemon.worker.close()
        self.daemon.store.close()


@pytest.mark.parametrize("family", ["trezor", "ledger"])
def test_held_keys_come_back_with_the_device_and_only_with_it(family: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "other").mkdir()
    device = start_simulator(family, tmp_path, auto="approve")

    async def scenario() -> None:
        parts = Parts(device.path, data)
        try:
            reply = await parts.call("signerd_requestGrant", held_params())
            address = reply["grant"]["typedData"]["message"]["sessionKey"]
            assert "sessionPrivateKey" not in reply
            assert keystore.UNLOCK_PROMPT in parts.progress
        finally:
            parts.close()
        parts = Parts(other.path, data)  # restarted on another seed
        try:
            with pytest.raises(KeysWrongDevice):
                await parts.call("signerd_unlock", {})
            with pytest.raises(KeysLocked):
                await parts.daemon.keys.signing_key(address)
        finally:
            parts.close()
        parts = Parts(device.path, data)  # restarted on the device that sealed them
        try:
            with pytest.raises(KeysLocked):
                await parts.daemon.keys.signing_key(address)
            assert await parts.call("signerd_unlock", {}) == {"unlocked": True, "held": 1}
            assert recovers(await parts.daemon.keys.signing_key(address), address)
        finally:
            parts.close()

    try:
        other = start_simulator(family, tmp_path / "other", auto="approve", mnemonic=OTHER_MNEMONIC)
        try:
            asyncio.run(scenario())
            # The last review on the device was the unlock after the restart.
            shown = device.screen_text()
            if family == "trezor":
                assert "Encrypt value\nsignerd held keys" in shown
            else:
                assert keystore.UNLOCK_PURPOSE in shown and "signerd keystore" in shown
        finally:
            other.stop()
    finally:
        device.stop()


def held_plaintexts(data_dir: Path) -> dict[str, bytes]:
    """Every held key's plaintext, from the store and the simulators' mnemonic alone."""
    with Store.open(data_dir) as store:
        record = store.keystore()
        sealed = store.held_keys()
    assert record is not None and record.method == keystore.METHOD_CIPHER_KEY_VALUE
    value = hashlib.sha256(b"signerd keystore\x00" + record.daemon_id.encode()).digest()
    material = slip11_reference(DEFAULT_MNEMONIC, record.path, keystore.KEY_NAME, value)
    kek = keystore.derive_kek(material, record.daemon_id, record.method)
    return {address: keystore.unseal(kek, address, blob) for address, blob in sealed.items()}


def test_held_private_keys_are_never_logged_stored_or_sent(tmp_path: Path) -> None:
    replies: list[dict[str, Any]] = []
    progress: list[str] = []
    with TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "trezor-sim.log") as device:
        with (
            verbose_daemon(device.path, tmp_path, log_path=tmp_path / "run1.log") as daemon,
            Client(daemon.socket_path) as client,
        ):
            for n in range(2):
                params = {**held_params(), "agent": f"held-{n}"}
                replies.append(client.request_grant(on_progress=progress.append, **params))
                replies.append(client.get_grant(replies[-1]["grant"]["id"]))
            replies.append(client.list_grants())
        with verbose_daemon(device.path, tmp_path, log_path=tmp_path / "run2.log") as daemon:
            with Client(daemon.socket_path) as client:
                replies.append(client.unlock(on_progress=progress.append))
                replies.append(client.status())
            data_dir = daemon.data_dir
    assert replies[-2] == {"unlocked": True, "held": 2}
    assert keystore.UNLOCK_PROMPT in progress
    audit = signerd_cli("audit", "--json", "--data-dir", str(data_dir), check=True).stdout
    blobs = {
        "replies": json.dumps(replies).encode(),
        "audit output": audit.encode(),
        "daemon log": (tmp_path / "run1.log").read_bytes() + (tmp_path / "run2.log").read_bytes(),
        "device log": (tmp_path / "trezor-sim.log").read_bytes(),
        **{path.name: path.read_bytes() for path in data_dir.iterdir() if path.is_file()},
    }
    assert b" DEBUG " in blobs["daemon log"], "debug logging was not on"
    plaintexts = held_plaintexts(data_dir)
    granted = {r["grant"]["typedData"]["message"]["sessionKey"] for r in replies[:4:2]}
    # The scan is not vacuous: these are the grants' keys, and their addresses are on record.
    assert {Account.from_key(key).address for key in plaintexts.values()} == granted
    for address in granted:
        assert address[2:].lower().encode() in blobs["audit output"].lower()
    for key in plaintexts.values():
        for name, blob in blobs.items():
            assert key.hex().encode() not in blob.lower(), f"held key found as hex in {name}"
            assert key not in blob, f"held key found as raw bytes in {name}"
