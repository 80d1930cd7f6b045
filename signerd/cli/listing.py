"""Stored grants: list them (by status, agent or session key, with what each has spent),
show one, revoke one. Grant ids may be given by a unique prefix (grant_lookup)."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import click

from signerd.cli import delegations, render
from signerd.cli.common import SOCKET_OPTION, json_option, print_json
from signerd.errors import DelegationNotFound, SignerdError
from signerd.rpc.client import Client
from signerd.rpc.grant_lookup import iter_grants, of_agent, resolve_grant_id

GRANT_ID_ARGUMENT = click.argument("grant_id", metavar="GRANT_ID")


@click.command("grants")
@SOCKET_OPTION
@click.option("--status", type=click.Choice(["active", "revoked", "expired", "pending"]))
@click.option("--agent", "label", help="Only grants asked for under this agent label.")
@click.option("--session-key", help="Only grants for this session key address.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@json_option()
def list_grants(
    socket_path: Path | None,
    status: str | None,
    label: str | None,
    session_key: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored grants, newest first, with what each has spent and has left."""
    filters = {"status": status, "sessionKey": session_key}
    with Client(socket_path) as client:
        found = iter_grants(client, **{k: v for k, v in filters.items() if v is not None})
        grants = list(islice((g for g in found if label is None or of_agent(g, label)), limit))
        if as_json:
            print_json({"grants": grants})  # as listGrants says them; `budget` for the rest
            return
        for grant in grants:
            grant["budget"] = _budget(client, grant["id"])
    for line in render.grant_lines(grants):
        click.echo(line)


def _budget(client: Client, grant_id: str) -> list[dict[str, Any]] | str:
    """The grant's allowances as getBudget says them, or why they cannot be read: one
    grant's budget does not hide the others from the listing."""
    try:
        allowances: list[dict[str, Any]] = client.get_budget(grant_id)["allowances"]
    except SignerdError as exc:
        return f"budget unavailable: {exc.name}"
    return allowances


@click.command()
@SOCKET_OPTION
@GRANT_ID_ARGUMENT
@json_option()
def show(socket_path: Path | None, grant_id: str, as_json: bool) -> None:
    """Show one grant: its record, its limits and what it has spent."""
    with Client(socket_path) as client:
        record: dict[str, Any] = client.get_grant(resolve_grant_id(client, grant_id))
        record["budget"] = _budget(client, record["id"])
    if as_json:
        print_json(record)
        return
    for line in render.grant_record_lines(record):
        click.echo(line)


@click.command()
@SOCKET_OPTION
@GRANT_ID_ARGUMENT
@click.option("--reason", help="Why (kept in the audit log).")
@click.option("--on-chain", is_flag=True, help="Also disable its delegation on chain (device).")
@json_option()
def revoke(
    socket_path: Path | None, grant_id: str, reason: str | None, on_chain: bool, as_json: bool
) -> None:
    """Revoke a grant (its id, or a unique prefix of it); with --on-chain, also disable its
    delegation on chain (the person signs the user operation on the device)."""
    with Client(socket_path) as client:
        full_id = resolve_grant_id(client, grant_id)
        if on_chain:
            try:
                disabled = delegations.revoke_on_chain(client, full_id, reason)
            except DelegationNotFound:  # nothing on chain: what the person wants is revoked
                if not as_json:
                    click.echo("no delegation of it on chain: revoking it off chain", err=True)
            else:
                if as_json:
                    print_json(disabled)
                else:
                    click.echo(f"revoked {full_id} and disabled its delegation on chain")
                    click.echo(f"transaction {disabled.get('disableTx')}")
                return
        revoked = client.revoke_grant(full_id, reason)
    if as_json:
        print_json(revoked)
        return
    click.echo(f"revoked {revoked['id']}  {revoked['summary']}")
