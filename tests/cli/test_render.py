"""The text commands print for people, from library values."""

from __future__ import annotations

from emulator.keys import MASTER_ADDRESS as MASTER
from signerd.cli import render
from signerd.devices.discovery import FoundDevice
from signerd.grants import Verification
from signerd.store import AuditEntry, AuditReport


def test_grant_lines() -> None:
    grants = [
        {"id": "0xaa", "status": "active", "summary": "10 USDC/day", "agent": "bot (uid 1)"},
        {"id": "0xbb", "status": "revoked", "summary": "1 ETH", "agent": "other"},
    ]
    assert render.grant_lines(grants) == [
        "0xaa  active   10 USDC/day",
        "    agent: bot (uid 1)",
        "0xbb  revoked  1 ETH",
        "    agent: other",
    ]
    assert render.grant_lines([]) == ["no grants"]


def test_verification() -> None:
    valid = Verification(True, None, None, MASTER, "0xaa")
    assert render.verification(valid) == f"valid: grant 0xaa signed by {MASTER}"
    invalid = Verification(False, "wrong_signer", "signed by 0x1", MASTER, "0xaa")
    assert render.verification(invalid) == "invalid (wrong_signer): signed by 0x1"


def test_audit_lines() -> None:
    entry = AuditEntry(7, 86400.5, "approved", "0xaa", None, {"a": 1}, "00", "11")
    assert (
        render.audit_line(entry)
        == '     7 1970-01-02 00:00:00Z approved         grant=0xaa {"a":1}'
    )
    bare = AuditEntry(8, 0, "started", None, None, None, "11", "22")
    assert render.audit_line(bare) == "     8 1970-01-01 00:00:00Z started          "
    assert render.audit_json_line(bare) == (
        '{"seq":8,"ts":0,"event":"started","grant_id":null,"peer":null,"detail":null,'
        '"prev_hash":"11","hash":"22"}'
    )


def test_audit_report() -> None:
    assert render.audit_report(AuditReport(True, 4, "ab")) == "audit chain OK: 4 entries, head ab"
    broken = AuditReport(False, 4, "ab", bad_seq=3, reason="hash mismatch")
    assert render.audit_report(broken) == "audit chain BROKEN at seq 3: hash mismatch"


def test_device_lines() -> None:
    trezor = FoundDevice("trezor", "udp:127.0.0.1:21324", "Safe 3", True, emulator=True)
    assert render.device_line(trezor) == (
        "udp:127.0.0.1:21324  trezor Safe 3 (emulator)  shows typed-data fields"
    )
    ledger = FoundDevice("ledger", "ledger:hid", "Nano S", False, emulator=False)
    assert render.device_line(ledger) == "ledger:hid  ledger Nano S (usb)  hash-only signing"
    broken = FoundDevice("ledger", "ledger:hid", None, None, False, error="app not open")
    assert render.device_line(broken) == "ledger:hid  ledger (usb)  error: app not open"


def test_status_lines() -> None:
    status = {
        "version": "0.1.0",
        "device": {
            "path": "udp:127.0.0.1:21324",
            "connected": True,
            "family": "trezor",
            "model": "Safe 3",
            "firmware": "2.12.4",
            "showsTypedDataFields": True,
            "lastError": None,
        },
        "account": MASTER,
        "pending": 1,
        "uptime": 3725.2,
        "heldKeys": {"locked": True, "held": 2},
    }
    assert render.status_lines(status) == [
        "signerd 0.1.0, up 1h 2m",
        "device:    trezor Safe 3 (firmware 2.12.4) at udp:127.0.0.1:21324; shows typed-data "
        "fields",
        f"account:   {MASTER}",
        "pending:   1 request for the person",
        "held keys: 2 held, locked (run `signerd unlock`)",
    ]
    status["device"] = {"path": "trezor:usb", "connected": False, "lastError": "no device"}
    assert render.status_lines({**status, "account": None})[1:3] == [
        "device:    not connected yet at trezor:usb",
        "           last error: no device",
    ]


def test_budget_lines() -> None:
    allowance = {"token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "period": 86400}
    standing = {**allowance, "cap": "100", "spent": "40", "reserved": "10", "remaining": "50"}
    assert render.budget_lines([standing]) == [
        "spent 40 (+10 reserved)  remaining 50 of 100 per 86400 s  token 0x8335..2913"
    ]
    assert render.budget_lines("budget unavailable: STORE_TAMPERED") == [
        "budget unavailable: STORE_TAMPERED"
    ]


def test_window_line() -> None:
    window = {"windowStart": 1_795_392_000, "windowEnd": 1_795_478_400}
    assert render.window_line(window) == "window 2026-11-23T00:00:00Z to 2026-11-24T00:00:00Z"
    outside = render.window_line({"windowStart": None, "windowEnd": None})
    assert outside == "no window now: outside the grant's validity"
