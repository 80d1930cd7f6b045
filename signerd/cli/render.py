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
    """``signerd_listGrants``' grants, two lines each: id, status and summary; then the agent."""
    if not grants:
        return ["no grants"]
    lines: list[str] = []
    for grant in grants:
        lines.append(f"{grant['id']}  {grant['status']:<8} {grant['summary']}")
        lines.append(f"    agent: {grant['agent']}")
    return lines


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
