"""Grant commands: ask the daemon for one; verify one offline (listing.py: stored ones)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import click

from signerd.cli import render
from signerd.cli.common import SOCKET_OPTION, Spinner, fail, json_option, print_json
from signerd.cli.outcomes import ExitCode
from signerd.errors import ValidationError
from signerd.grants import verify_grant
from signerd.grants.cli_input import (
    load_json,
    load_request,
    load_signed_grant,
    parse_allowance,
    parse_duration,
    read_text,
    request_params,
)
from signerd.rpc.client import Client


def _shorthand(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback parsing with ``parse`` (cli_input); its errors are usage errors."""

    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        try:
            if isinstance(value, tuple):  # a repeatable option
                return tuple(parse(item) for item in value)
            return parse(value)
        except ValidationError as exc:
            raise click.BadParameter(exc.message, ctx, param) from None

    return convert


# What a request file holds in full: given with --file, these options are an error.
_FILE_CONFLICTS = frozenset(
    {
        "label",
        "session_key",
        "generate",
        "hold",
        "chain_id",
        "allowances",
        "payees",
        "targets",
        "valid_for",
    }
)


@click.command()
@SOCKET_OPTION
@click.option(
    "--agent",
    "label",
    help="Who is asking, shown on the device in quotes: letters, digits, - _ . only "
    "(required unless --file).",
)
@click.option("--session-key", help="The agent's own session key address (recommended).")
@click.option("--generate", is_flag=True, help="Let the daemon create the session key.")
@click.option(
    "--hold",
    is_flag=True,
    help='The daemon creates the session key and keeps it, sealed (custody "daemon"): '
    "payments go through signerd pay / signerd_signPayment.",
)
@click.option(
    "--chain-id",
    type=int,
    help="The chain the grant is for (8453 Base, 1 Ethereum, ...); never assumed (required "
    "unless --file).",
)
@click.option(
    "--allow",
    "allowances",
    multiple=True,
    callback=_shorthand(parse_allowance),
    metavar="TOKEN:AMOUNT[:PERIOD[:MAX]]",
    help="Allowance in base units; token 0x0 = native coin; period like 1d (0 = total); "
    "MAX = most per payment.",
)
@click.option(
    "--payee",
    "payees",
    multiple=True,
    metavar="ADDRESS",
    help="Who payments may go to (repeatable; none = anyone).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Contract the session key may call (repeatable).",
)
@click.option(
    "--valid-for",
    callback=_shorthand(parse_duration),
    default="1d",
    show_default=True,
    help="Validity, e.g. 3600, 30m, 1d.",
)
@click.option(
    "--file",
    "request_file",
    type=click.File("r"),
    help="Take the whole request, agent label included, from a JSON file (- for stdin).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the reply to a new file, mode 0600 (required with --generate: it holds the "
    "session private key); - for stdout.",
)
@json_option()
@click.pass_context
def request(
    ctx: click.Context,
    socket_path: Path | None,
    label: str | None,
    session_key: str | None,
    generate: bool,
    hold: bool,
    chain_id: int | None,
    allowances: tuple[dict[str, Any], ...],
    payees: tuple[str, ...],
    targets: tuple[str, ...],
    valid_for: int,
    request_file: IO[str] | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Ask the daemon for a grant and wait for the person to approve it on the device.

    Prints the daemon's reply (the signed grant) as JSON. Ctrl-C withdraws the request.
    """
    if request_file is not None:
        given = [
            param.opts[0]
            for param in ctx.command.params
            if param.name in _FILE_CONFLICTS and _given(ctx, param.name)
        ]
        if given:
            raise click.UsageError(f"--file holds the whole request: drop {', '.join(given)}")
        params = load_request(read_text(request_file), request_file.name)
    else:
        if label is None or chain_id is None:
            missing = "--agent" if label is None else "--chain-id"
            raise click.UsageError(f"Missing option '{missing}' (or give the request as --file)")
        keys = [
            flag
            for flag, given in (
                ("--session-key", session_key),
                ("--generate", generate),
                ("--hold", hold),
            )
            if given
        ]
        if len(keys) > 1:
            raise click.UsageError(f"{' and '.join(keys)}: give one way to have a session key")
        params = request_params(
            agent=label,
            chain_id=chain_id,
            allowances=allowances,
            targets=targets,
            valid_for=valid_for,
            payees=payees,
            session_key=session_key,
            generate=generate,
            hold=hold,
        )
    if params.get("generate") and out is None:
        raise click.UsageError(
            "--generate needs --out FILE: the reply holds the session private key, written "
            "to a new file readable only by you (or --out - to print it)"
        )
    # Created before the person is asked: a reply holding the key has to land somewhere, and
    # the key is handed over once, so a file that cannot be made must stop us first.
    private = None if out is None or str(out) == "-" else open_private(out)
    try:
        with (
            Client(socket_path) as client,
            Spinner("Confirm on your device", lazy=True) as spinner,
        ):
            result = client.request_grant(on_progress=spinner.say, **params)
    except BaseException:
        if private is not None and out is not None:
            private.close()
            out.unlink(missing_ok=True)  # ours and empty: nothing was granted
        raise
    if private is None:
        print_json(result)
        return
    with private:
        private.write(json.dumps(result, indent=2) + "\n")
    click.echo(f"reply written to {out} (mode 0600)", err=True)
    result.pop("sessionPrivateKey", None)
    print_json(result)


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source is not click.core.ParameterSource.DEFAULT


def open_private(path: Path) -> IO[str]:
    """A new file only we can read, for writing (never through an existing file or link)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise click.UsageError(f"{path} already exists; choose a new file for --out") from None
    except OSError as exc:
        raise click.UsageError(f"cannot create {path} for --out: {exc.strerror}") from None
    return os.fdopen(fd, "w")


def _carries_private_key(document: Any) -> bool:
    return isinstance(document, dict) and "sessionPrivateKey" in document


@click.command()
@click.argument("grant_file", type=click.File("r"))
@click.option("--signer", "expected", help="The master address the grant must be signed by.")
@click.option("--chain-id", type=int, help="The chain you accept payments on (checked).")
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    help="Also ask the signerd on this socket whether it revoked the grant.",
)
@json_option()
def verify(
    grant_file: IO[str],
    expected: str | None,
    chain_id: int | None,
    socket_path: Path | None,
    as_json: bool,
) -> None:
    """Verify a signed grant offline; exit 0 if valid, 1 if not.

    Prints what the grant allows (chain, session key, limits, payees, targets, window).
    """
    text = read_text(grant_file)
    if _carries_private_key(load_json(text, grant_file.name)):
        raise ValidationError(
            grant_file.name,
            "carries a session private key (sessionPrivateKey): keep that file private and "
            'give verifiers only the grant (its "grant" member)',
        )
    document = load_signed_grant(text, grant_file.name)
    result = verify_grant(document, expected_signer=expected, expected_chain_id=chain_id)
    if result.valid and socket_path is not None:
        with Client(socket_path) as client:
            known = client.verify_grant(document, expected, chain_id=chain_id)
        if known.get("reason") == "revoked":
            detail = f"revoked in the signerd at {socket_path}: {known.get('detail')}"
            result = replace(result, valid=False, reason="revoked", detail=detail)
    if as_json:
        print_json(result.to_json())
        if not result.valid:
            sys.exit(ExitCode.NEGATIVE)
    elif not result.valid:
        fail(render.verification(result))
    else:
        click.echo(render.verification(result))
        # Valid means signed by the account it names: anyone can sign a grant naming
        # their own account, so a payee that checks nothing else accepts a forgery.
        if expected is None:
            click.echo(
                "warning: the signer was not checked: pass --signer with the payer's account",
                err=True,
            )
        if chain_id is None:
            click.echo("warning: the chain was not checked: pass --chain-id with yours", err=True)
