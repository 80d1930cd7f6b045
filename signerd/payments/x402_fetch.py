"""Fetch a URL, paying over x402 within a grant: x402's own client (its ``requests``
integration and ``exact`` EVM scheme) signing through the daemon (SignerdEvmSigner).

The one place the CLI's ``signerd pay`` (and any other front door) gets a paid response
from. A refusal by signerd comes out as signerd's own error, not x402's wrapper of it.
Needs the ``x402`` package (``pip install signerd[x402]``).
"""

from __future__ import annotations

import requests
from x402 import x402ClientSync
from x402.http.clients import wrapRequestsWithPayment
from x402.mechanisms.evm.exact import ExactEvmClientScheme

from signerd.errors import SignerdError
from signerd.payments.x402_signer import SignerdEvmSigner
from signerd.rpc.client import Client


def fetch_paying(client: Client, grant_id: str, url: str, timeout: float) -> requests.Response:
    """GET ``url``; answer a 402 by paying from grant ``grant_id`` in one of its tokens."""
    grant = client.get_grant(grant_id)
    network = f"eip155:{grant['chainId']}"
    tokens = [a["token"] for a in grant["grant"]["typedData"]["message"]["allowances"]]
    payer = x402ClientSync()
    payer.register(network, ExactEvmClientScheme(SignerdEvmSigner(client, grant_id)))
    # x402 pays by default only in the assets of its own table: here, the grant's.
    payer.set_spend_controls({"allowed_assets": [{"network": network, "asset": t} for t in tokens]})
    session = wrapRequestsWithPayment(requests.Session(), payer)
    try:
        response: requests.Response = session.get(url, timeout=timeout)
        return response
    except requests.RequestException:
        raise
    except Exception as exc:  # x402 wraps the signer's errors: raise signerd's own
        cause = signerd_cause(exc)
        if cause is None:
            raise
        raise cause from None


def signerd_cause(exc: BaseException | None) -> SignerdError | None:
    """The signerd error ``exc`` was raised from, if any (x402 re-raises with a cause)."""
    while exc is not None:
        if isinstance(exc, SignerdError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
