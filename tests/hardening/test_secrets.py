"""Generated session private keys leave the daemon once, in the reply, and nowhere else.

With debug logging on, grants are requested with ``generate: true``; then the daemon's log,
the SQLite files (database, WAL and shared-memory files, read while the daemon runs and after
it stops) and the audit log's output are searched for every key handed out: as hex in any case,
with or without 0x, and as raw bytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from eth_account import Account

from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.cli import main
from signerd.client import Client
from signerd.hardening import WANTED_FILES
from signerd.launch import DaemonProcess
from tests.hardening.support import verbose_daemon
from tests.support import grant_params, signerd_cli

GRANTS = 4


def data_files(data_dir: Path) -> dict[str, bytes]:
    return {
        f"{path.name}": path.read_bytes() for path in sorted(data_dir.iterdir()) if path.is_file()
    }


def test_generated_private_keys_are_never_logged_or_stored(tmp_path: Path) -> None:
    device = TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "trezor-sim.log").start()
    keys: list[str] = []
    addresses: list[str] = []
    try:
        with verbose_daemon(device.path, tmp_path) as daemon:
            with Client(daemon.socket_path) as client:
                for n in range(GRANTS):
                    params = grant_params(agent=f"secret-keeper-{n}")
                    del params["sessionKey"]
                    reply = client.request_grant(generate=True, **params)
                    key = reply["sessionPrivateKey"]
                    grant = reply["grant"]
                    address = grant["typedData"]["message"]["sessionKey"]
                    assert Account.from_key(key).address == address
                    keys.append(key)
                    addresses.append(address)
                    assert "sessionPrivateKey" not in client.get_grant(grant["id"])
                    assert client.verify_grant(grant)["valid"] is True
                client.list_grants()
                client.revoke_grant(grant["id"], reason="rotating keys")
            running = data_files(daemon.data_dir)
            assert {"signerd.db-wal", "signerd.db-shm"} <= set(running)
        stopped = data_files(daemon.data_dir)
        log = daemon.log_path.read_bytes()
    finally:
        device.stop()
    audit = signerd_cli(
        "audit", "--json", "--data-dir", str(daemon.data_dir), check=True
    ).stdout.encode()
    assert b" DEBUG " in log, "debug logging was not on"
    blobs = {
        "daemon log": log,
        "audit output": audit,
        "device log": (tmp_path / "trezor-sim.log").read_bytes(),
        **{f"{name} (running)": data for name, data in running.items()},
        **{f"{name} (stopped)": data for name, data in stopped.items()},
    }
    # The scan is not vacuous: the public session addresses are in the store and the audit.
    stored = (running["signerd.db"] + running["signerd.db-wal"] + stopped["signerd.db"]).lower()
    for address in addresses:
        assert address[2:].lower().encode() in stored
        assert address[2:].lower().encode() in audit.lower()
    assert len(set(keys)) == GRANTS
    for key in keys:
        hex_key = key.removeprefix("0x").lower()
        assert len(hex_key) == 64
        raw = bytes.fromhex(hex_key)
        for name, blob in blobs.items():
            assert hex_key.encode() not in blob.lower(), f"private key found as hex in {name}"
            assert raw not in blob, f"private key found as raw bytes in {name}"


def test_the_daemon_writes_no_core_dumps(tmp_path: Path) -> None:
    # No device needed: the daemon serves (and holds keys) whether or not one answers.
    with DaemonProcess("udp:127.0.0.1:9", tmp_path) as daemon:
        assert daemon.proc is not None
        limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core
    # And descriptors for a flood of connections (a peer's connect/close loop ran the usual
    # 1024 out), as far as the hard limit lets it.
    files = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    soft, hard = files.split()[3:5]
    assert soft == hard or int(soft) >= WANTED_FILES, files


def test_no_core_dumps_also_makes_the_process_undumpable() -> None:
    code = (
        "from signerd.hardening import dumpable, no_core_dumps; no_core_dumps(); print(dumpable())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "0", done.stderr


def test_a_generated_key_is_written_only_to_a_private_file(tmp_path: Path) -> None:
    base = ["request", "--agent", "a", "--chain-id", "1", "--allow", "eth:1", "--generate"]
    result = CliRunner().invoke(main, [*base, "--socket", str(tmp_path / "none.sock")])
    assert result.exit_code == 2
    assert "--generate needs --out FILE" in result.output
    # An --out that exists is refused before the daemon (and the person) is asked: the key
    # is handed over once, and a reply with nowhere to go would lose it after the approval.
    taken = tmp_path / "taken.json"
    taken.write_text("someone else's")
    asked = CliRunner().invoke(
        main, [*base, "--out", str(taken), "--socket", str(tmp_path / "none.sock")]
    )
    assert asked.exit_code == 2
    assert "already exists" in asked.output
    assert taken.read_text() == "someone else's"
    # A request that fails leaves no empty file behind.
    fresh = tmp_path / "fresh.json"
    failed = CliRunner().invoke(
        main, [*base, "--out", str(fresh), "--socket", str(tmp_path / "none.sock")]
    )
    assert failed.exit_code == 7  # no daemon there
    assert not fresh.exists()
