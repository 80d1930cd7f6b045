"""Fetch a URL, paying over x402 from a grant: x402's own ``requests`` integration and
``exact`` EVM scheme, signing through signerd (``SignerdEvmSigner``).

    with Client() as client:
        paid = fetch_paying(client, grant_id, "https://shop.example/weather")
        paid.response.text, paid.spends

What ``signerd pay`` does, as a library call for other front doors (the MCP server's
``pay_x402`` tool, your own agent). x402 pays by default only in the assets of its own table:
here the spend controls name the grant's tokens, so it pays in exactly those. A refusal by
signerd reaches x402's client from inside the signer, which x402 wraps in its own errors:
``fetch_paying`` raises signerd's error itself (``BudgetExceeded``, ``PaymentRefused``...),
and a PaymentRefused ("x402_cannot_pay") when x402's client finds nothing it may pay (a
price in a token or on a chain the grant does not cover, a malformed 402 answer).

Needs the ``x402`` package (``pip install signerd[x402]``); the daemon never imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from x402 import x402ClientSync
from x402.http.clients import wrapRequestsWithPayment
from x402.http.clients.requests import PaymentError
from x402.mechanisms.evm.exact import ExactEvmClientScheme

from signerd.errors import PaymentRefused, SignerdError
from signerd.payments.x402_signer import SignerdEvmSigner
from signerd.rpc.client import Client

HTTP_TIMEOUT = 60.0


@dataclass(frozen=True)
class PaidResponse:
    """The HTTP answer, its body (``truncated`` past ``max_bytes``), and the ledger records
    of what was paid to get it."""

    response: requests.Response
    body: bytes
    truncated: bool
    spends: list[dict[str, Any]]

    @property
    def text(self) -> str:
        return self.body.decode(self.response.encoding or "utf-8", errors="replace")


def paying_session(client: Client, grant_id: str) -> tuple[requests.Session, SignerdEvmSigner]:
    """A ``requests`` session that pays 402 answers from ``grant_id``, and its signer."""
    grant = client.get_grant(grant_id)
    network = f"eip155:{grant['chainId']}"
    tokens = [a["token"] for a in grant["grant"]["typedData"]["message"]["allowances"]]
    signer = SignerdEvmSigner(client, grant_id)
    payer = x402ClientSync()
    payer.register(network, ExactEvmClientScheme(signer))
    payer.set_spend_controls({"allowed_assets": [{"network": network, "asset": t} for t in tokens]})
    return wrapRequestsWithPayment(requests.Session(), payer), signer


def fetch_paying(
    client: Client,
    grant_id: str,
    url: str,
    *,
    timeout: float = HTTP_TIMEOUT,
    max_bytes: int | None = None,
) -> PaidResponse:
    """GET ``url``, paying within ``grant_id`` if it answers 402; with ``max_bytes``, read
    at most that much of the body (the rest is never downloaded).

    Raises signerd's error when signerd refused the payment (or the grant), and
    ``requests.RequestException`` when the URL cannot be fetched. A non-2xx answer is
    returned, not raised: the caller decides what it means.
    """
    try:
        session, signer = paying_session(client, grant_id)
        response = session.get(url, timeout=timeout, stream=max_bytes is not None)
    except PaymentError as exc:  # x402's client failed handling the 402 answer
        cause = signerd_cause(exc)
        if cause is not None:
            raise cause from exc
        if signer.spends:  # it paid, then the paid request failed: the spends count
            paid = ", ".join(spend["key"] for spend in signer.spends)
            raise requests.RequestException(f"paid (spends {paid}), then: {exc}") from exc
        raise PaymentRefused(
            f"x402 could not pay {url} from grant {grant_id}: {exc}",
            {"reason": "x402_cannot_pay"},
        ) from exc
    except Exception as exc:
        cause = signerd_cause(exc)
        if cause is None or cause is exc:
            raise
        raise cause from exc
    if max_bytes is None:
        return PaidResponse(response, response.content, False, list(signer.spends))
    with response:
        body = response.raw.read(max_bytes + 1, decode_content=True)
    return PaidResponse(response, body[:max_bytes], len(body) > max_bytes, list(signer.spends))


def signerd_cause(exc: BaseException | None) -> SignerdError | None:
    """The signerd error somewhere in ``exc``'s chain of causes, if any."""
    while exc is not None:
        if isinstance(exc, SignerdError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
