"""The README's commands, run as a person would run them, against the simulated Trezor."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.cli.outcomes import ExitCode
from signerd.client import Client
from signerd.launch import DaemonProcess
from tests.support import USDC_BASE, signerd_cli

Account.enable_unaudited_hdwallet_features()
MASTER = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path="m/44'/60'/0'/0/0").address


@pytest.fixture(scope="module")
def trezor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrezorSimulatorProcess]:
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    with TrezorSimulatorProcess(auto="approve", log_path=log) as sim:
        yield sim


def write_request(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "agent": "weather-bot",
                "sessionKey": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
                "chainId": 8453,
                "allowances": [{"token": USDC_BASE, "amount": "10000000", "period": 86400}],
                "targets": [],
                "validFor": 86400,
            }
        )
    )
    return path


def test_address(trezor: TrezorSimulatorProcess) -> None:
    result = signerd_cli("address", "--device", trezor.path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == MASTER


def test_sign_grant_then_verify_and_tamper(trezor: TrezorSimulatorProcess, tmp_path: Path) -> None:
    signed = signerd_cli(
        "sign-grant", "--device", trezor.path, str(write_request(tmp_path / "r.json"))
    )
    assert signed.returncode == 0, signed.stderr
    assert "Confirm on your device" in signed.stderr
    grant = json.loads(signed.stdout)
    grant_file = tmp_path / "grant.json"
    grant_file.write_text(signed.stdout)
    ok = signerd_cli("verify", str(grant_file), "--signer", MASTER)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"valid: grant {grant['id']} signed by {MASTER}")
    assert "signer was not checked" not in ok.stderr
    unchecked = signerd_cli("verify", str(grant_file))  # valid, but whose grant?
    assert unchecked.returncode == 0
    assert "warning: the signer was not checked" in unchecked.stderr

    wrong = signerd_cli("verify", str(grant_file), "--signer", Account.create().address)
    assert wrong.returncode == 1 and "wrong_signer" in wrong.stderr

    grant["typedData"]["message"]["allowances"][0]["amount"] = 10**12
    grant_file.write_text(json.dumps(grant))
    tampered = signerd_cli("verify", str(grant_file), "--signer", MASTER)
    assert tampered.returncode == 1
    assert "summary_mismatch" in tampered.stderr or "bad_signature" in tampered.stderr


def test_sign_grant_names_tokens_and_applies_policy_from_the_config(
    trezor: TrezorSimulatorProcess, tmp_path: Path
) -> None:
    token = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
    request = json.loads(write_request(tmp_path / "r.json").read_text())
    request |= {"chainId": 31337}
    request["allowances"] = [{"token": token, "amount": "30000", "period": 86400}]
    config = tmp_path / "signerd.toml"
    config.write_text(
        f'[[tokens]]\nchain = 31337\naddress = "{token}"\nsymbol = "USDC"\ndecimals = 6\n'
    )
    args = ["sign-grant", "--device", trezor.path, "--config", str(config), "-"]
    signed = signerd_cli(*args, stdin=json.dumps(request))
    assert signed.returncode == 0, signed.stderr
    summary = json.loads(signed.stdout)["typedData"]["message"]["summary"]
    assert summary.startswith("0.03 USDC/day on chain 31337;"), summary
    config.write_text(config.read_text() + "[policy]\nmax_validity = 3600\n")
    refused = signerd_cli(*args, stdin=json.dumps(request))
    assert refused.returncode == ExitCode.REFUSED, refused.stderr
    assert "POLICY_REFUSED" in refused.stderr


def test_sign_grant_reports_the_invalid_field(
    trezor: TrezorSimulatorProcess, tmp_path: Path
) -> None:
    request = json.loads(write_request(tmp_path / "r.json").read_text())
    request["allowances"][0]["amount"] = "-5"
    result = signerd_cli("sign-grant", "--device", trezor.path, "-", stdin=json.dumps(request))
    assert result.returncode == ExitCode.INVALID_INPUT
    assert "allowances.0.amount" in result.stderr


def test_no_device_is_a_clear_error() -> None:
    result = signerd_cli("address", "--device", "udp:127.0.0.1:9")
    assert result.returncode == ExitCode.UNAVAILABLE
    assert result.stderr.startswith("error: no Trezor found at udp:127.0.0.1:9")


def test_daemon_commands(trezor: TrezorSimulatorProcess, tmp_path: Path) -> None:
    with DaemonProcess(trezor.path, tmp_path) as daemon:
        sock = str(daemon.socket_path)
        status = signerd_cli("status", "--json", "--socket", sock)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["device"]["path"] == trezor.path
        shown = signerd_cli("status", "--socket", sock).stdout.splitlines()
        assert f"account:   {MASTER}" in shown and "pending:   0 requests for the person" in shown
        assert shown[1].startswith("device:    trezor Safe 3 (firmware ")

        requested = signerd_cli(
            "request",
            "--socket",
            sock,
            "--agent",
            "shell-agent",
            "--generate",
            "--chain-id",
            "8453",
            "--allow",
            f"{USDC_BASE}:10000000:1d",
            "--allow",
            "native:1000000000000000:0",
            "--valid-for",
            "2h",
            "--out",
            str(tmp_path / "reply.json"),
        )
        assert requested.returncode == 0, requested.stderr
        assert "sessionPrivateKey" not in requested.stdout
        assert (tmp_path / "reply.json").stat().st_mode & 0o777 == 0o600
        reply = json.loads((tmp_path / "reply.json").read_text())
        message = reply["grant"]["typedData"]["message"]
        assert Account.from_key(reply["sessionPrivateKey"]).address == message["sessionKey"]
        assert message["validUntil"] - message["validAfter"] == 7200
        assert [a["period"] for a in message["allowances"]] == [86400, 0]

        listed = signerd_cli("grants", "--socket", sock)
        assert reply["grant"]["id"] in listed.stdout and "active" in listed.stdout

        grant_id = reply["grant"]["id"]
        revoked = signerd_cli("revoke", "--json", "--socket", sock, grant_id, "--reason", "done")
        assert revoked.returncode == 0 and json.loads(revoked.stdout)["status"] == "revoked"
        again = signerd_cli("revoke", "--socket", sock, grant_id[:10])  # a unique prefix
        assert again.returncode == ExitCode.REFUSED and "GRANT_REVOKED" in again.stderr

        # Offline the signature still holds; the daemon that revoked it says so.
        grant_file = tmp_path / "grant.json"
        grant_file.write_text(json.dumps(reply["grant"]))
        assert signerd_cli("verify", str(grant_file), "--chain-id", "8453").returncode == 0
        asked = signerd_cli("verify", str(grant_file), "--socket", sock)
        assert asked.returncode == 1
        assert f"invalid (revoked): revoked in the signerd at {sock}: done" in asked.stderr
        with Client(sock) as client:
            wrong = client.verify_grant(reply["grant"], chain_id=1)
        assert (wrong["reason"], wrong["terms"]["chainId"]) == ("wrong_chain", 8453)

    audit = signerd_cli("audit", "--verify", "--data-dir", str(daemon.data_dir))
    assert audit.returncode == 0, audit.stderr
    assert "approved" in audit.stdout and "revoked" in audit.stdout
    assert "audit chain OK: 4 entries" in audit.stdout
    assert reply["sessionPrivateKey"][2:] not in audit.stdout


def test_daemon_not_running_is_a_clear_error(tmp_path: Path) -> None:
    result = signerd_cli("status", "--socket", str(tmp_path / "nothing.sock"))
    assert result.returncode == ExitCode.UNAVAILABLE
    assert "is `signerd serve` running?" in result.stderr
    assert "[DAEMON_UNAVAILABLE -32044]" in result.stderr


def test_request_hold_keeps_the_session_key_in_the_daemon(
    trezor: TrezorSimulatorProcess, tmp_path: Path
) -> None:
    with DaemonProcess(trezor.path, tmp_path) as daemon:
        sock = str(daemon.socket_path)
        allow = f"{USDC_BASE}:1000000:1d:250000"
        base = ["request", "--socket", sock, "--agent", "shop-bot", "--chain-id", "8453"]
        both = signerd_cli(*base, "--allow", allow, "--hold", "--generate")
        assert both.returncode == 2
        assert "--generate and --hold: give one way to have a session key" in both.stderr

        requested = signerd_cli(*base, "--allow", allow, "--hold", "--valid-for", "2h")
        assert requested.returncode == 0, requested.stderr
        assert "Unlock held session keys on your device" in requested.stderr
        reply = json.loads(requested.stdout)
        assert reply["custody"] == "daemon" and "sessionPrivateKey" not in reply
        grant_id = reply["grant"]["id"]
        status = json.loads(signerd_cli("status", "--json", "--socket", sock).stdout)
        assert status["heldKeys"] == {"locked": False, "held": 1}

        shown = signerd_cli("budget", grant_id[:12], "--socket", sock, check=True).stdout
        lines = shown.splitlines()
        assert lines[0] == (
            "spent 0  remaining 1000000 of 1000000 per 86400 s  token "
            f"{USDC_BASE[:6]}..{USDC_BASE[-4:]}"
        )
        # Windows count from validAfter; the 2 h validity ends the day's window early.
        message = reply["grant"]["typedData"]["message"]
        start, end = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(message[key]))
            for key in ("validAfter", "validUntil")
        )
        assert lines[1] == f"    window {start} to {end}"

    # After a restart the held key is sealed until the person unlocks it on the device.
    with DaemonProcess(trezor.path, tmp_path) as daemon:
        sock = str(daemon.socket_path)
        status = json.loads(signerd_cli("status", "--json", "--socket", sock).stdout)
        assert status["heldKeys"] == {"locked": True, "held": 1}
        unlocked = signerd_cli("unlock", "--socket", sock)
        assert unlocked.returncode == 0, unlocked.stderr
        assert unlocked.stdout == "unlocked: 1 held session key\n"
        assert "Confirm" in unlocked.stderr
        status = json.loads(signerd_cli("status", "--json", "--socket", sock).stdout)
        assert status["heldKeys"] == {"locked": False, "held": 1}
