"""`signerd mcp`: serve signerd's MCP tools on stdin/stdout (the server is signerd.mcp's)."""

from __future__ import annotations

from pathlib import Path

import click

from signerd.cli.common import SOCKET_OPTION, fail, json_option
from signerd.cli.outcomes import ExitCode


@click.command()
@SOCKET_OPTION
@json_option("Report start-up errors as JSON (the tools always answer in MCP's JSON).")
def mcp(socket_path: Path | None, as_json: bool) -> None:
    """Serve MCP tools for LLM agents on stdio, talking to the daemon's socket.

    Tools: signerd_status, request_grant, list_grants, get_budget, pay_x402, revoke_grant.
    Add `signerd mcp` to an MCP client's configuration (README, "MCP").
    """
    try:
        from signerd.mcp.server import build_server
    except ImportError as exc:  # mcp is an optional extra, like x402
        fail(f"{exc}: install signerd[mcp]", ExitCode.UNAVAILABLE)
    build_server(socket_path).run("stdio")
