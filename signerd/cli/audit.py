"""`signerd audit`: print the audit log from the store directly, and check its hash chain."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signerd.cli import render
from signerd.cli.common import DATA_DIR_OPTION, fail, json_option
from signerd.config import default_data_dir
from signerd.errors import StoreError

if TYPE_CHECKING:
    from signerd.store import AuditEntry, Store

_PAGE = 1000  # entries read per query: a long log is printed without holding all of it


def _entries(store: Store) -> Iterator[AuditEntry]:
    """Every audit entry, oldest first."""
    after = 0
    while page := store.audit_entries(after_seq=after, limit=_PAGE):
        yield from page
        after = page[-1].seq


@click.command()
@DATA_DIR_OPTION
@click.option("--verify", "check", is_flag=True, help="Check the hash chain; exit 1 if broken.")
@json_option("One JSON object per entry (and errors as JSON).")
def audit(data_dir: Path | None, check: bool, as_json: bool) -> None:
    """Print the audit log (and with --verify, detect any edited, inserted or deleted row)."""
    # Loaded here, not at the top: only this command opens the store.
    from signerd.store import DB_FILENAME, Store

    directory = data_dir or default_data_dir()
    if not (directory / DB_FILENAME).exists():  # opening would create an empty one
        raise StoreError(f"no store in {directory}")
    line = render.audit_json_line if as_json else render.audit_line
    with Store.open(directory) as store:
        try:
            for entry in _entries(store):
                click.echo(line(entry))
            report = store.verify_audit() if check else None
        # A store edited by hand (a dropped table, a cell that is not JSON) is the case
        # --verify exists for: a verdict with the reason, never a traceback.
        except (sqlite3.Error, ValueError, TypeError, KeyError) as exc:
            what = "audit chain BROKEN" if check else "cannot read the audit log"
            fail(f"{what}: {type(exc).__name__}: {exc}", name="AUDIT_BROKEN")
        if report is not None:
            if not report.ok:
                fail(render.audit_report(report), name="AUDIT_BROKEN")
            click.echo(render.audit_report(report))
