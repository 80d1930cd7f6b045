"""`signerd mcp` driven by the MCP SDK's own stdio client, against `signerd serve` on the
simulated Trezor and an x402 shop on anvil (Circle's USDC, x402's Flask middleware).

The agent lists the tools, asks for a held-key grant (approved on the device, progress
relayed as MCP progress notifications), pays for the shop's resource within it until the
budget is spent (the next payment is an MCP tool error carrying BUDGET_EXCEEDED), reads its
budget, revokes it; an unknown grant and an absent daemon are tool errors with their codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from eth_account import Account
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_types import CallToolResult

from emulator.chain import mint_usdc, usdc_balance
from emulator.keys import MASTER_ADDRESS
from emulator.trezor.launch import TrezorSimulatorProcess
from examples.x402_server import PAID_PATH, ServedApp, make_app, serve_in_thread
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess
from tests.chain.conftest import PRICE, Chain, chain, facilitator_key  # noqa: F401  # fixtures
from tests.support import wait_until_connected

TOOLS = {"signerd_status", "request_grant", "list_grants", "get_budget", "pay_x402", "revoke_grant"}
CALL_TIMEOUT = 60.0
UNKNOWN_GRANT = "0x" + "ab" * 32


@pytest.fixture(scope="module")
def payee() -> str:
    return str(Account.create().address)


@pytest.fixture(scope="module")
def shop(chain: Chain, payee: str, facilitator_key: str) -> Iterator[ServedApp]:  # noqa: F811
    app = make_app(chain.anvil.rpc_url, chain.usdc, payee, PRICE, facilitator_key=facilitator_key)
    with serve_in_thread(app) as served:
        yield served


def mcp_server(socket_path: Path) -> StdioServerParameters:
    """`signerd mcp` as an MCP client's configuration would start it."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "signerd.cli", "mcp", "--socket", str(socket_path)],
        env=dict(os.environ),
    )


def error_of(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error, result
    assert result.structured_content is not None, result
    error: dict[str, Any] = result.structured_content["error"]
    return error


def test_an_llm_agent_gets_a_grant_and_pays_through_mcp(
    chain: Chain,  # noqa: F811
    shop: ServedApp,
    payee: str,
    tmp_path: Path,
) -> None:
    allowance = {"token": chain.usdc.address, "amount": str(2 * PRICE), "period": 86400}
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async def agent(socket_path: Path) -> None:
        async with (
            stdio_client(mcp_server(socket_path)) as (read, write),
            ClientSession(read, write) as session,
        ):
            with anyio.fail_after(CALL_TIMEOUT):
                await session.initialize()
                listed = await session.list_tools()
            tools = {tool.name: tool for tool in listed.tools}
            assert set(tools) == TOOLS
            assert all(tool.output_schema for tool in tools.values())
            assert "chain_id" in tools["request_grant"].input_schema["properties"]

            async def call(name: str, **arguments: Any) -> CallToolResult:
                with anyio.fail_after(CALL_TIMEOUT):
                    return await session.call_tool(name, arguments, progress_callback=on_progress)

            status = await call("signerd_status")
            assert not status.is_error, status
            assert status.structured_content is not None
            assert status.structured_content["device"]["connected"] is True
            assert status.structured_content["account"] == MASTER_ADDRESS

            issued = await call(
                "request_grant",
                agent="mcp-shopper",
                chain_id=chain.usdc.chain_id,
                allowances=[allowance],
                payees=[payee],
                valid_for=3600,
            )
            assert not issued.is_error, issued
            grant = issued.structured_content
            assert grant is not None and grant["custody"] == "daemon"
            assert verify_grant(grant["grant"], expected_signer=MASTER_ADDRESS).valid
            # The daemon's device prompt, relayed while the person was asked.
            assert any("device" in line.lower() or "trezor" in line.lower() for line in progress)

            session_key = grant["sessionKey"]
            mint_usdc(chain.w3, chain.usdc, session_key, 10 * PRICE)
            payee_before = usdc_balance(chain.w3, chain.usdc, payee)
            for _ in range(2):
                paid = await call("pay_x402", url=shop.url + PAID_PATH, grant_id=grant["id"])
                assert not paid.is_error, paid
                assert paid.structured_content is not None
                assert paid.structured_content["httpStatus"] == 200
                assert '"forecast"' in paid.structured_content["body"]
                [spend] = paid.structured_content["spends"]
                assert (spend["amount"], spend["payee"]) == (str(PRICE), payee)
            over = await call("pay_x402", url=shop.url + PAID_PATH, grant_id=grant["id"])
            assert (error_of(over)["code"], error_of(over)["name"]) == (-32050, "BUDGET_EXCEEDED")
            assert usdc_balance(chain.w3, chain.usdc, payee) == payee_before + 2 * PRICE

            budget = await call("get_budget", grant_id=grant["id"])
            assert budget.structured_content is not None
            [standing] = budget.structured_content["allowances"]
            assert (standing["spent"], standing["remaining"]) == (str(2 * PRICE), "0")

            mine = await call("list_grants", status="active")
            assert mine.structured_content is not None
            assert [g["id"] for g in mine.structured_content["grants"]] == [grant["id"]]

            unknown = await call("revoke_grant", grant_id=UNKNOWN_GRANT)
            assert (error_of(unknown)["code"], error_of(unknown)["name"]) == (
                -32020,
                "GRANT_NOT_FOUND",
            )
            revoked = await call("revoke_grant", grant_id=grant["id"], reason="done shopping")
            assert revoked.structured_content is not None
            assert revoked.structured_content["status"] == "revoked"
            after = await call("pay_x402", url=shop.url + PAID_PATH, grant_id=grant["id"])
            assert error_of(after)["name"] in {"GRANT_REVOKED", "BUDGET_EXCEEDED"}

            bad = await call("get_budget", grant_id="not-a-grant-id")
            assert error_of(bad)["code"] == -32602  # INVALID_PARAMS, from the daemon

    with (
        TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device,
        DaemonProcess(device.path, tmp_path) as daemon,
    ):
        wait_until_connected(daemon.socket_path)
        anyio.run(agent, daemon.socket_path)


def test_an_absent_daemon_is_a_tool_error_with_its_code(tmp_path: Path) -> None:
    async def agent() -> dict[str, Any]:
        async with (
            stdio_client(mcp_server(tmp_path / "nobody.sock")) as (read, write),
            ClientSession(read, write) as session,
        ):
            with anyio.fail_after(CALL_TIMEOUT):
                await session.initialize()
                return error_of(await session.call_tool("signerd_status", {}))

    error = anyio.run(agent)
    assert (error["code"], error["name"]) == (-32044, "DAEMON_UNAVAILABLE")
