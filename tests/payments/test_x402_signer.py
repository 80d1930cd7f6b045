"""x402's own client signs through SignerdEvmSigner: the payload it builds carries the
daemon's signature, recovering to the grant's session key; refusals come out of x402's
client as signerd's errors. The daemon runs in process (its loop in this thread, x402 in a
worker thread), reached through a stand-in for the socket client."""

from __future__ import annotations

import asyncio
import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from eth_account import Account
from eth_account.messages import encode_typed_data
from x402.http import encode_payment_required_header
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.schemas import PaymentRequired, PaymentRequirements

from signerd.client import Client
from signerd.errors import BudgetExceeded, PaymentRefused
from signerd.payments.x402_fetch import fetch_paying
from signerd.payments.x402_signer import SignerdEvmSigner
from tests.payments.factories import BUDGET, MAX_PER_PAYMENT, OTHER_PAYEE, PAYEE, authorization
from tests.payments.harness import Shop, shop
from tests.support import USDC_BASE


class InProcessClient:
    """The two Client methods the signer uses, answered by the in-process daemon's loop."""

    def __init__(self, shop: Shop, loop: asyncio.AbstractEventLoop) -> None:
        self._shop = shop
        self._loop = loop

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        future = asyncio.run_coroutine_threadsafe(self._shop.call(method, params), self._loop)
        return cast("dict[str, Any]", future.result(timeout=30))

    def get_grant(self, grant_id: str) -> dict[str, Any]:
        return self._call("signerd_getGrant", {"id": grant_id})

    def sign_payment(self, grant_id: str, typed_data: dict[str, Any]) -> dict[str, Any]:
        return self._call("signerd_signPayment", {"grantId": grant_id, "typedData": typed_data})


def requirements(amount: int, pay_to: str = PAYEE) -> PaymentRequirements:
    return PaymentRequirements(
        scheme="exact",
        network="eip155:8453",
        asset=USDC_BASE,
        amount=str(amount),
        pay_to=pay_to,
        max_timeout_seconds=300,
        extra={"name": "USD Coin", "version": "2"},
    )


def test_x402_client_pays_through_signerd_within_the_grant(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            client = InProcessClient(s, asyncio.get_running_loop())
            signer = await asyncio.to_thread(SignerdEvmSigner, cast(Client, client), s.grant_id)
            assert signer.address == s.address
            scheme = ExactEvmClientScheme(signer)

            payload = await asyncio.to_thread(
                scheme.create_payment_payload, requirements(MAX_PER_PAYMENT)
            )
            auth = payload["authorization"]
            typed_data = authorization(
                auth["from"],
                to=auth["to"],
                value=int(auth["value"]),
                nonce=auth["nonce"],
            )
            typed_data["message"].update(
                validAfter=int(auth["validAfter"]), validBefore=int(auth["validBefore"])
            )
            signable = encode_typed_data(full_message=typed_data)
            assert Account.recover_message(signable, signature=payload["signature"]) == s.address
            assert signer.spends[-1]["key"] == auth["nonce"]

            with pytest.raises(PaymentRefused):
                await asyncio.to_thread(
                    scheme.create_payment_payload, requirements(1, pay_to=OTHER_PAYEE)
                )
            await asyncio.to_thread(scheme.create_payment_payload, requirements(MAX_PER_PAYMENT))
            with pytest.raises(BudgetExceeded):
                await asyncio.to_thread(
                    scheme.create_payment_payload,
                    requirements(BUDGET - 2 * MAX_PER_PAYMENT + 1),
                )

    asyncio.run(scenario())


def test_the_daemon_does_not_import_x402() -> None:
    code = (
        "import sys, signerd.daemon, signerd.api, signerd.cli; "
        "assert 'x402' not in sys.modules, 'x402 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server answering with ``handler``, in a thread: its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class _Unpayable(http.server.BaseHTTPRequestHandler):
    """A shop whose 402 answer x402's client cannot act on."""

    def do_GET(self) -> None:
        self.send_response(402)
        self.send_header("PAYMENT-REQUIRED", "!!!not-base64")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_402_that_x402_cannot_pay_is_a_refusal_with_its_code(tmp_path: Path) -> None:
    """Not x402's own exception with a traceback (signerd pay, the MCP pay_x402 tool):
    a PaymentRefused naming why, and nothing signed."""

    async def scenario(url: str) -> None:
        async with shop(tmp_path) as s:
            client = cast(Client, InProcessClient(s, asyncio.get_running_loop()))
            with pytest.raises(PaymentRefused) as caught:
                await asyncio.to_thread(fetch_paying, client, s.grant_id, url, timeout=10)
            assert caught.value.data["reason"] == "x402_cannot_pay"
            spends = await s.call("signerd_listSpends", {"grantId": s.grant_id})
            assert spends["spends"] == []

    with serving(_Unpayable) as base:
        asyncio.run(scenario(base + "/weather"))


class _Big(http.server.BaseHTTPRequestHandler):
    """A free resource of 4 MiB."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(4 * 2**20))
        self.end_headers()
        chunk = b"x" * 2**16
        for _ in range(64):
            self.wfile.write(chunk)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_fetch_reads_at_most_max_bytes_of_a_body(tmp_path: Path) -> None:
    """What the MCP pay_x402 tool asks for: a 300 MB answer must not land in its memory."""

    async def scenario(url: str) -> None:
        async with shop(tmp_path) as s:
            client = cast(Client, InProcessClient(s, asyncio.get_running_loop()))
            paid = await asyncio.to_thread(fetch_paying, client, s.grant_id, url, max_bytes=1000)
            assert (len(paid.body), paid.truncated, paid.text) == (1000, True, "x" * 1000)
            whole = await asyncio.to_thread(fetch_paying, client, s.grant_id, url)
            assert (len(whole.body), whole.truncated) == (4 * 2**20, False)

    with serving(_Big) as base:
        asyncio.run(scenario(base + "/big"))


class _PaidThenGone(http.server.BaseHTTPRequestHandler):
    """Asks a price the grant allows, then drops the connection of the paid request."""

    def do_GET(self) -> None:
        if self.headers.get("PAYMENT-SIGNATURE"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # paid: no answer at all
            return
        price = PaymentRequired(x402_version=2, accepts=[requirements(MAX_PER_PAYMENT)])
        self.send_response(402)
        self.send_header("PAYMENT-REQUIRED", encode_payment_required_header(price))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_payment_whose_paid_request_fails_is_not_called_refused(tmp_path: Path) -> None:
    """x402 wraps a failure after paying in the same error as one before: the signature has
    left, so it is an HTTP failure naming the spend, never PAYMENT_REFUSED."""

    async def scenario(url: str) -> None:
        async with shop(tmp_path) as s:
            client = cast(Client, InProcessClient(s, asyncio.get_running_loop()))
            with pytest.raises(requests.RequestException) as caught:
                await asyncio.to_thread(fetch_paying, client, s.grant_id, url, timeout=10)
            [spend] = (await s.call("signerd_listSpends", {"grantId": s.grant_id}))["spends"]
            assert spend["status"] == "committed"
            assert f"paid (spends {spend['key']})" in str(caught.value)

    with serving(_PaidThenGone) as base:
        asyncio.run(scenario(base + "/weather"))
