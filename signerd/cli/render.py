"""The text the commands print for people (``--json`` prints the library's values as they are).

Pure functions from library values to lines, kept apart from click so they are tested directly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store and discovery load on demand: most commands need neither
    from signerd.devices.discovery import FoundDevice
    from signerd.grants import Verification
    from signerd.store import AuditEntry, AuditReport

NO_DEVICES = "no devices found (see udev/README.md; emulators are listed with --emulators)"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def grant_lines(grants: Sequence[Mapping[str, Any]]) -> list[str]:
    """Listed grants: id, status and summary; then the agent; then, when the listing carries
    its ``budget`` (getBudget's allowances), what each allowance has spent and has left."""
    if not grants:
        return ["no grants"]
    lines: list[str] = []
    for grant in grants:
        lines.append(f"{grant['id']}  {grant['status']:<8} {grant['summary']}")
        lines.append(f"    agent: {grant['agent']}")
        lines.extend(f"    {line}" for line in budget_lines(grant.get("budget", [])))
    return lines


def budget_lines(allowances: Sequence[Mapping[str, Any]] | str) -> list[str]:
    """getBudget's allowances, one line each: spent and remaining of the cap (base units);
    or the one line saying why they could not be read."""
    if isinstance(allowances, str):
        return [allowances]
    lines = []
    for a in allowances:
        reserved = f" (+{a['reserved']} reserved)" if int(a["reserved"]) else ""
        period = f"per {a['period']} s" if a["period"] else "in total"
        lines.append(
            f"spent {a['spent']}{reserved}  remaining {a['remaining']} of {a['cap']} "
            f"{period}  token {short_address(a['token'])}"
        )
    return lines


def window_line(allowance: Mapping[str, Any]) -> str:
    """The current window of one of getBudget's allowances, in UTC."""
    if allowance["windowStart"] is None:
        return "no window now: outside the grant's validity"
    return f"window {_utc(allowance['windowStart'])} to {_utc(allowance['windowEnd'])}"


def short_address(address: str) -> str:
    """0x8335..2913: enough to tell tokens apart in a listing; ``show`` prints it whole."""
    return f"{address[:6]}..{address[-4:]}" if len(address) == 42 else address


def grant_record_lines(record: Mapping[str, Any]) -> list[str]:
    """``show``: a grant's record (getGrant), its terms and its budget."""
    message = record["grant"]["typedData"]["message"]
    lines = [
        f"grant {record['id']}",
        f"  status:      {record['status']}",
        f"  summary:     {record['summary']}",
        f"  agent:       {record['agent']}",
        f"  chain:       {record['chainId']}",
        f"  account:     {record['account']}",
        f"  session key: {record['sessionKey']}",
    ]
    for allowance in message["allowances"]:
        cap = int(allowance.get("maxPerPayment") or 0)
        most = f", at most {cap} per payment" if cap else ""
        per = f"per {allowance['period']} s" if allowance["period"] else "in total"
        symbol = allowance.get("symbol") or "?"
        lines.append(
            f"  allowance:   {allowance['amount']} base units of {symbol} {allowance['token']} "
            f"{per}{most}"
        )
    lines.append(f"  payees:      {', '.join(message.get('payees', [])) or 'anyone'}")
    lines.append(f"  targets:     {', '.join(message.get('targets', [])) or 'none'}")
    lines.append(f"  valid:       {_utc(record['validAfter'])} to {_utc(record['validUntil'])}")
    if record.get("revokedAt") is not None:
        reason = record.get("revokeReason") or "no reason given"
        lines.append(f"  revoked:     {_utc(int(record['revokedAt']))} ({reason})")
    lines.extend(f"  budget:      {line}" for line in budget_lines(record.get("budget", [])))
    return lines


def status_lines(status: Mapping[str, Any]) -> list[str]:
    """``signerd_status`` for a person: the daemon, its device, account, queue and held keys."""
    device = status["device"]
    if device.get("family"):
        what = f"{device['family']} {device['model']} (firmware {device['firmware']})"
        fields = "shows" if device.get("showsTypedDataFields") else "does NOT show"
        seen = f"{what} at {device['path']}; {fields} typed-data fields"
    else:
        seen = f"not connected yet at {device['path']}"
    if device.get("family") and not device.get("connected"):
        seen += "; not connected now"
    lines = [
        f"signerd {status['version']}, up {_duration(float(status['uptime']))}",
        f"device:    {seen}",
    ]
    if device.get("lastError"):
        lines.append(f"           last error: {device['lastError']}")
    lines.append(f"account:   {status.get('account') or 'not known yet'}")
    pending = int(status["pending"])
    lines.append(f"pending:   {pending} request{'' if pending == 1 else 's'} for the person")
    held = status.get("heldKeys")
    if isinstance(held, Mapping):
        state = "locked (run `signerd unlock`)" if held.get("locked") else "unlocked"
        lines.append(f"held keys: {held.get('held')} held, {state}")
    return lines


def _duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n] or ["0s"]
    return " ".join(shown[:2])


def verification(result: Verification) -> str:
    """``verify``'s verdict: who signed which grant, or why it is not valid; then, once the
    document parsed, what it allows: chain, session key, limits, payees, targets, window."""
    if result.valid:
        verdict = f"valid: grant {result.grant_id} signed by {result.signer}"
    else:
        verdict = f"invalid ({result.reason}): {result.detail}"
    return "\n".join([verdict, *terms_lines(result.terms or {})])


def terms_lines(terms: Mapping[str, Any]) -> list[str]:
    """A grant's terms (Verification.terms), one per line, indented under the verdict."""
    if not terms:
        return []
    lines = [f"  chain:       {terms['chainId']}", f"  account:     {terms['account']}"]
    lines.append(f"  session key: {terms['sessionKey']}")
    for allowance in terms.get("allowances", []):
        period = allowance["period"]
        per = f"per {period} s" if period else "in total"
        cap = allowance.get("maxPerPayment") or 0
        token = f"{allowance.get('symbol') or '?'} {allowance['token']}"
        most = f", at most {cap} per payment" if cap else ""
        lines.append(f"  allowance:   {allowance['amount']} base units of {token} {per}{most}")
    lines.append(f"  payees:      {', '.join(terms.get('payees', [])) or 'anyone'}")
    lines.append(f"  targets:     {', '.join(terms.get('targets', [])) or 'none'}")
    lines.append(f"  valid:       {_utc(terms['validAfter'])} to {_utc(terms['validUntil'])}")
    return lines


def _utc(seconds: int) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"{seconds} (Unix time)"


def audit_line(entry: AuditEntry) -> str:
    """One audit entry: sequence number, UTC time, event, grant and detail."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.ts))
    grant = f" grant={entry.grant_id}" if entry.grant_id else ""
    detail = _compact(entry.detail) if entry.detail else ""
    return f"{entry.seq:>6} {when}Z {entry.event:<16}{grant} {detail}"


def audit_json_line(entry: AuditEntry) -> str:
    """One audit entry as a single-line JSON object (everything needed to recompute its hash)."""
    return _compact(entry.to_json())


def audit_report(report: AuditReport) -> str:
    """The verdict on the audit chain: its length and head, or the first broken row."""
    if report.ok:
        return f"audit chain OK: {report.count} entries, head {report.head}"
    where = "" if report.bad_seq is None else f" at seq {report.bad_seq}"
    return f"audit chain BROKEN{where}: {report.reason}"


def device_line(found: FoundDevice) -> str:
    """A discovered device: path, family, model, and whether it shows typed-data fields."""
    kind = "emulator" if found.emulator else "usb"
    if found.error:
        return f"{found.path}  {found.family} ({kind})  error: {found.error}"
    fields = "shows typed-data fields" if found.shows_typed_data_fields else "hash-only signing"
    return f"{found.path}  {found.family} {found.model} ({kind})  {fields}"
