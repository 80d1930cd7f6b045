"""`signerd`: the command line — run the daemon, talk to it, or use a device directly.

Commands that talk to the daemon (status, request, grants, revoke) use the socket;
``address`` and ``sign-grant`` open the device themselves; ``verify`` and ``audit`` need
neither (audit reads the store directly).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from signerd import __version__
from signerd.config import default_data_dir, load_config
from signerd.devices import DEFAULT_DERIVATION_PATH, open_signer
from signerd.devices.discovery import resolve_device
from signerd.errors import SignerdError
from signerd.grants import (
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
    verify_grant,
)
from signerd.rpc.client import Client

SOCKET_OPTION = click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    envvar="SIGNERD_SOCKET",
    help="Daemon socket (default: $XDG_RUNTIME_DIR/signerd/signerd.sock).",
)
DEVICE_OPTION = click.option(
    "--device",
    "device",
    required=True,
    envvar="SIGNERD_DEVICE",
    help="Device path: udp:127.0.0.1:21324, webusb:…, hid:…, tcp:127.0.0.1:9999, ledger:hid, "
    "or auto (the only device found).",
)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


@contextmanager
def _errors() -> Iterator[None]:
    """Turn signerd and daemon errors into one readable line and a non-zero exit."""
    try:
        yield
    except SignerdError as exc:
        _fail(f"{exc} [{exc.name} {int(exc.code)}]")
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        _fail(f"cannot reach signerd ({exc}); is `signerd serve` running?")


@click.group()
@click.version_option(__version__, prog_name="signerd")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Hardware-wallet-approved session keys for autonomous agents."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # trezorlib logs every transport open/close at INFO (the liveness probe: once a second).
    logging.getLogger("trezorlib").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


# -- the daemon -------------------------------------------------------------------------


@main.command()
@click.option("--device", "device", envvar="SIGNERD_DEVICE", help="Device path (see `address`).")
@SOCKET_OPTION
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the store lives.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True))
@click.option("--approval-timeout", type=float, help="Seconds to wait for the person (120).")
@click.option(
    "--allow-blind-signing",
    is_flag=True,
    default=None,
    help="Allow hash-only signing where the device cannot show the fields.",
)
def serve(
    device: str | None,
    socket_path: Path | None,
    data_dir: Path | None,
    config_file: Path | None,
    approval_timeout: float | None,
    allow_blind_signing: bool | None,
) -> None:
    """Serve grants to agents on the Unix socket until SIGTERM/SIGINT."""
    from signerd.daemon import serve as run_daemon

    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    with _errors():
        config = load_config(config_file).with_overrides(
            device=device,
            socket_path=socket_path,
            data_dir=data_dir,
            approval_timeout=approval_timeout,
            allow_blind_signing=allow_blind_signing,
        )
        asyncio.run(run_daemon(config))


@main.command()
@SOCKET_OPTION
def status(socket_path: Path | None) -> None:
    """Show the daemon's device, master address and pending requests."""
    with _errors(), Client(socket_path) as client:
        _print_json(client.status())


@main.command()
@SOCKET_OPTION
@click.option("--agent", "label", required=True, help="Who is asking (shown on the device).")
@click.option("--session-key", help="The agent's own session key address (recommended).")
@click.option("--generate", is_flag=True, help="Let the daemon create the session key.")
@click.option("--chain-id", type=int, default=1, show_default=True)
@click.option(
    "--allow",
    "allowances",
    multiple=True,
    metavar="TOKEN:AMOUNT[:PERIOD]",
    help="Allowance in base units; token 0x0 = native coin; period like 1d (0 = total).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Contract the session key may call (repeatable).",
)
@click.option("--valid-for", default="1d", show_default=True, help="Validity, e.g. 3600, 30m, 1d.")
@click.option(
    "--file",
    "request_file",
    type=click.File("r"),
    help="Take the whole request from a JSON file instead.",
)
def request(
    socket_path: Path | None,
    label: str,
    session_key: str | None,
    generate: bool,
    chain_id: int,
    allowances: tuple[str, ...],
    targets: tuple[str, ...],
    valid_for: str,
    request_file: Any,
) -> None:
    """Ask the daemon for a grant and wait for the person to approve it on the device."""
    with _errors():
        if request_file is not None:
            params = json.load(request_file)
        else:
            params = {
                "agent": label,
                "chainId": chain_id,
                "allowances": [_parse_allowance(a) for a in allowances],
                "targets": list(targets),
                "validFor": _duration(valid_for),
            }
            if session_key:
                params["sessionKey"] = session_key
            if generate:
                params["generate"] = True
        with Client(socket_path) as client, _Spinner("Confirm on your device") as spinner:
            result = client.request_grant(on_progress=spinner.say, **params)
        _print_json(result)


@main.command()
@SOCKET_OPTION
@click.option("--status", type=click.Choice(["active", "revoked", "expired", "pending"]))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def grants(socket_path: Path | None, status: str | None, limit: int, as_json: bool) -> None:
    """List stored grants, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    with _errors(), Client(socket_path) as client:
        result = client.list_grants(**params)
    if as_json:
        _print_json(result)
        return
    for grant in result["grants"]:
        click.echo(f"{grant['id']}  {grant['status']:<8} {grant['summary']}")
        click.echo(f"    agent: {grant['agent']}")
    if not result["grants"]:
        click.echo("no grants")


@main.command()
@SOCKET_OPTION
@click.argument("grant_id")
@click.option("--reason", help="Why (kept in the audit log).")
def revoke(socket_path: Path | None, grant_id: str, reason: str | None) -> None:
    """Revoke a grant."""
    with _errors(), Client(socket_path) as client:
        _print_json(client.revoke_grant(grant_id, reason))


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Where the store lives.")
@click.option("--verify", "check", is_flag=True, help="Check the hash chain; exit 1 if broken.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def audit(data_dir: Path | None, check: bool, as_json: bool) -> None:
    """Print the audit log (and with --verify, detect any edited, inserted or deleted row)."""
    from signerd.store import Store

    directory = data_dir or default_data_dir()
    if not (directory / "signerd.db").exists():
        _fail(f"no store in {directory}")
    with _errors(), Store.open(directory) as store:
        after = 0
        while entries := store.audit_entries(after_seq=after, limit=1000):
            for entry in entries:
                if as_json:
                    click.echo(json.dumps(entry.to_json(), separators=(",", ":")))
                else:
                    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.ts))
                    grant = f" grant={entry.grant_id}" if entry.grant_id else ""
                    detail = json.dumps(entry.detail, separators=(",", ":")) if entry.detail else ""
                    click.echo(f"{entry.seq:>6} {when}Z {entry.event:<16}{grant} {detail}")
            after = entries[-1].seq
        if check:
            report = store.verify_audit()
            if report.ok:
                click.echo(f"audit chain OK: {report.count} entries, head {report.head}")
            else:
                _fail(f"audit chain BROKEN at seq {report.bad_seq}: {report.reason}")


# -- direct device use ------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-emulators", is_flag=True, help="Only USB devices.")
def devices(as_json: bool, no_emulators: bool) -> None:
    """List connected Trezor and Ledger devices and emulators on their default ports."""
    from signerd.devices.discovery import discover

    found = discover(emulators=not no_emulators)
    if as_json:
        _print_json([d.to_json() for d in found])
        return
    if not found:
        click.echo("no devices found (see udev/README.md, or start signerd-emulator)")
    for d in found:
        kind = "emulator" if d.emulator else "usb"
        if d.error:
            click.echo(f"{d.path}  {d.family} ({kind})  error: {d.error}")
            continue
        fields = "shows typed-data fields" if d.shows_typed_data_fields else "hash-only signing"
        click.echo(f"{d.path}  {d.family} {d.model} ({kind})  {fields}")


@main.command()
@DEVICE_OPTION
@click.option("--path", "derivation", default=DEFAULT_DERIVATION_PATH, show_default=True)
def address(device: str, derivation: str) -> None:
    """Print the device's Ethereum address at a BIP-32 path."""
    with _errors(), open_signer(resolve_device(device)) as signer:
        click.echo(signer.get_address(derivation))


@main.command("sign-grant")
@DEVICE_OPTION
@click.argument("request_file", type=click.File("r"))
@click.option("--path", "derivation", default=DEFAULT_DERIVATION_PATH, show_default=True)
@click.option(
    "--allow-blind-signing",
    is_flag=True,
    help="Sign by hash where the device cannot show the fields.",
)
def sign_grant(device: str, request_file: Any, derivation: str, allow_blind_signing: bool) -> None:
    """Have the device sign a grant request (JSON file, - for stdin); print the signed grant."""
    with _errors():
        try:
            data = json.load(request_file)
        except json.JSONDecodeError as exc:
            _fail(f"{request_file.name}: not JSON: {exc}")
        if not isinstance(data, dict):
            _fail(f"{request_file.name}: the request must be a JSON object")
        request = parse_grant_request(data, now=int(time.time()))
        agent = agent_description(request.label, os.getuid(), os.getpid(), "signerd")
        signer_path = resolve_device(device)
        with open_signer(signer_path, allow_blind_signing=allow_blind_signing) as signer:
            account = signer.get_address(derivation)
            nonce = request.nonce if request.nonce is not None else int.from_bytes(os.urandom(8))
            typed_data = build_grant_typed_data(request, account=account, agent=agent, nonce=nonce)
            with _Spinner("Confirm on your device") as spinner:
                spinner.say(f"The device will show: {typed_data['message']['summary']}")
                signature = signer.sign_typed_data(typed_data, derivation, notify=spinner.say)
        _print_json(signed_grant(typed_data, signature, account))


@main.command()
@click.argument("grant_file", type=click.File("r"))
@click.option("--signer", "expected", help="The master address the grant must be signed by.")
def verify(grant_file: Any, expected: str | None) -> None:
    """Verify a signed grant offline; exit 0 if valid, 1 if not."""
    try:
        document = json.load(grant_file)
    except json.JSONDecodeError as exc:
        _fail(f"{grant_file.name}: not JSON: {exc}")
    if isinstance(document, dict) and "grant" in document and "typedData" not in document:
        document = document["grant"]  # accept the daemon's requestGrant reply as it is
    result = verify_grant(document, expected_signer=expected)
    if result.valid:
        click.echo(f"valid: grant {result.grant_id} signed by {result.signer}")
        return
    _fail(f"invalid ({result.reason}): {result.detail}")


# -- helpers ----------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> int:
    match = re.fullmatch(r"(\d+)([smhdw]?)", text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: use seconds or a number with s/m/h/d/w")
    return int(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)


def _parse_allowance(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise click.BadParameter(f"{text!r}: use TOKEN:AMOUNT[:PERIOD]")
    token = parts[0]
    if token in ("0", "0x0", "native", "eth"):
        token = "0x" + "0" * 40
    period = _duration(parts[2]) if len(parts) == 3 else 0
    return {"token": token, "amount": parts[1], "period": period}


class _Spinner:
    """Shows that we wait for the person, without blocking; progress lines go to stderr."""

    def __init__(self, message: str) -> None:
        self.message = message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tty = sys.stderr.isatty()
        self._lock = threading.Lock()

    def say(self, line: str) -> None:
        with self._lock:
            if self._tty:
                sys.stderr.write("\r\033[K")
            sys.stderr.write(f"{line}\n")
            sys.stderr.flush()

    def _spin(self) -> None:
        for frame in itertools.cycle("|/-\\"):
            if self._stop.wait(0.12):
                return
            with self._lock:
                sys.stderr.write(f"\r{frame} {self.message} ")
                sys.stderr.flush()

    def __enter__(self) -> _Spinner:
        if self._tty:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        else:
            self.say(f"{self.message} ...")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


if __name__ == "__main__":
    main()
