"""The MCP tools: signerd's front door for LLM agents, served over stdio (``signerd mcp``).

Each tool is one socket call (or, for ``pay_x402``, one paid fetch) through ``Bridge``, with
typed inputs and outputs (``signerd.mcp.models``). ``request_grant`` blocks until the person
answers on the device and relays the daemon's progress lines as MCP progress notifications.
No tool hands a private key to the model: a grant's session key is the agent's own address,
or (the default) one the daemon holds and signs with (``pay_x402``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.from_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from signerd import __version__
from signerd.mcp.bridge import Bridge, Refused
from signerd.mcp.models import (
    AllowanceInput,
    Budget,
    ErrorBody,
    GrantList,
    GrantOverview,
    IssuedGrant,
    Payment,
    Status,
)
from signerd.rpc.client import Client

MAX_BODY_CHARS = 64 * 1024  # what pay_x402 returns of a body: enough for an API's JSON
MAX_BODY_BYTES = 4 * MAX_BODY_CHARS  # what it downloads of one: never a whole 300 MB answer
# Paid fetches wait on other servers: they get threads of their own, fewer than the 40 the
# other tools share, and a deadline, so slow shops cannot keep revoke_grant waiting.
PAY_THREADS = 8
PAY_DEADLINE = 150.0  # seconds: x402's 402, the payment, and the paid answer

INSTRUCTIONS = """\
signerd holds spending authority for you, approved by a person on a hardware wallet.
Ask for a grant (request_grant) with the smallest allowance and validity that does the job;
the person reads its one-line summary on the device and may refuse. Pay for HTTP 402 (x402)
resources within an active grant with pay_x402; check what is left with get_budget.
A refusal carries signerd's error name (e.g. BUDGET_EXCEEDED, REJECTED_ON_DEVICE): do not
retry a rejection or a policy refusal without asking the person."""

GrantId = Annotated[str, Field(description="A grant id (0x + 64 hex digits).")]


def build_server(socket_path: Path | None = None) -> MCPServer[Any]:
    """The MCP server, talking to the daemon at ``socket_path`` (default: $SIGNERD_SOCKET,
    else the standard path)."""
    bridge = Bridge(socket_path)
    limiters: dict[str, anyio.CapacityLimiter] = {}
    server: MCPServer[Any] = MCPServer(
        "signerd", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool()
    async def signerd_status() -> Annotated[CallToolResult, Status]:
        """signerd's state: version, device (connected, model), the person's account, how
        many requests wait for the person, and whether the held session keys are unlocked."""
        return await bridge.run(lambda client: Status.model_validate(client.status()))

    @server.tool()
    async def request_grant(
        ctx: Context[Any, Any],
        agent: Annotated[
            str, Field(description="Your label: 1-48 letters, digits, '-', '_' or '.'.")
        ],
        chain_id: Annotated[int, Field(ge=1, description="The chain, e.g. 8453 for Base.")],
        allowances: Annotated[list[AllowanceInput], Field(min_length=1)],
        valid_for: Annotated[int, Field(ge=1, description="Seconds the grant lasts.")],
        payees: Annotated[
            list[str] | None,
            Field(description="Who payments may go to (checksummed addresses); none = anyone."),
        ] = None,
        targets: Annotated[
            list[str] | None, Field(description="Contracts the session key may call.")
        ] = None,
        session_key: Annotated[
            str | None,
            Field(
                description="Your own session key's address. Leave out to have signerd hold "
                "the key and sign payments for you (pay_x402)."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, IssuedGrant]:
        """Ask the person for a grant: capped, time-limited spending authority. Blocks until
        they approve or reject it on the hardware wallet (progress is reported meanwhile)."""
        params: dict[str, Any] = {
            "agent": agent,
            "chainId": chain_id,
            "allowances": [
                a.model_dump(by_alias=True, exclude_none=True, mode="json") for a in allowances
            ],
            "payees": payees or [],
            "targets": targets or [],
            "validFor": valid_for,
        }
        if session_key is None:
            params["custody"] = "daemon"
        else:
            params["sessionKey"] = session_key
        steps = itertools.count(1)

        def progress(line: str) -> None:  # on the worker thread
            anyio.from_thread.run(ctx.report_progress, next(steps), None, line)

        def ask(client: Client) -> IssuedGrant:
            reply = client.request_grant(on_progress=progress, **params)
            document = reply["grant"]
            message = document["typedData"]["message"]
            return IssuedGrant(
                id=document["id"],
                status=reply["status"],
                summary=message["summary"],
                session_key=message["sessionKey"],
                custody="daemon" if reply.get("custody") == "daemon" else "agent",
                grant=document,
            )

        return await bridge.run(ask)

    @server.tool()
    async def list_grants(
        status: Literal["active", "pending", "expired", "revoked"] | None = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
        before: Annotated[
            str | None, Field(description="The previous page's `next`, for the next page.")
        ] = None,
    ) -> Annotated[CallToolResult, GrantList]:
        """Your grants, newest first (another uid's grants are not shown)."""
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if before is not None:
            params["before"] = before
        return await bridge.run(
            lambda client: GrantList.model_validate(client.list_grants(**params))
        )

    @server.tool()
    async def get_budget(grant_id: GrantId) -> Annotated[CallToolResult, Budget]:
        """Where each allowance of a grant stands in its current window: cap, spent,
        reserved and remaining, in base units (decimal strings)."""
        return await bridge.run(lambda client: Budget.model_validate(client.get_budget(grant_id)))

    @server.tool()
    async def pay_x402(
        url: Annotated[str, Field(description="The http(s) URL to GET.")],
        grant_id: GrantId,
    ) -> Annotated[CallToolResult, Payment]:
        """GET a URL, paying its HTTP 402 (x402) price from a grant whose session key signerd
        holds. signerd signs only within the grant's limits (token, payees, per-payment and
        per-period caps, validity) and records every payment."""
        if "pay" not in limiters:  # made on the server's loop, at its first paid call
            limiters["pay"] = anyio.CapacityLimiter(PAY_THREADS)
        return await bridge.run(
            lambda client: _pay(client, grant_id, url),
            limiter=limiters["pay"],
            deadline=PAY_DEADLINE,
        )

    @server.tool()
    async def revoke_grant(
        grant_id: GrantId,
        reason: Annotated[str | None, Field(max_length=200)] = None,
    ) -> Annotated[CallToolResult, GrantOverview]:
        """Revoke one of your grants at once: signerd signs nothing more within it."""
        return await bridge.run(
            lambda client: GrantOverview.model_validate(client.revoke_grant(grant_id, reason))
        )

    return server


def _pay(client: Client, grant_id: str, url: str) -> Payment:
    try:
        import requests

        from signerd.payments.x402_fetch import fetch_paying
    except ImportError as exc:  # x402 is an optional extra
        raise Refused(
            ErrorBody(code=None, name="MISSING_DEPENDENCY", message=f"{exc}: install signerd[x402]")
        ) from None
    try:
        paid = fetch_paying(client, grant_id, url, max_bytes=MAX_BODY_BYTES)
    except requests.RequestException as exc:
        raise Refused(ErrorBody(code=None, name=type(exc).__name__, message=str(exc))) from None
    response = paid.response
    if not response.ok:
        raise Refused(
            ErrorBody(
                code=None,
                name="HTTP_ERROR",
                message=f"{url} answered {response.status_code} {response.reason}",
                data={
                    "httpStatus": response.status_code,
                    "body": paid.text[:500],
                    "paymentRequired": response.headers.get("PAYMENT-REQUIRED"),
                    "spends": paid.spends,  # signed, so they count against the grant
                },
            )
        )
    body = paid.text
    return Payment.model_validate(
        {
            "url": url,
            "httpStatus": response.status_code,
            "contentType": response.headers.get("Content-Type"),
            "body": body[:MAX_BODY_CHARS],
            "truncated": paid.truncated or len(body) > MAX_BODY_CHARS,
            "spends": paid.spends,
            "paymentResponse": response.headers.get("PAYMENT-RESPONSE"),
        }
    )
