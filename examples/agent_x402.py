"""An agent that pays for an HTTP API with x402's own client, signing through signerd.

    python examples/agent_x402.py https://shop.example/weather --grant 0xGRANT_ID [--socket PATH]

The grant is one the person approved with the daemon holding its session key
(`"custody": "daemon"` in the request, e.g. `signerd request --file`, or `request_grant` in
`signerd mcp`): the agent never sees a key. x402's client answers the 402 with an EIP-3009
authorization; signerd signs it only within the grant (token, payee, per-payment and
per-period caps, validity) and records the spend, or refuses with its error
(BUDGET_EXCEEDED, PAYMENT_REFUSED, GRANT_REVOKED, ...).
`signerd.payments.x402_fetch.fetch_paying` does the same in one call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import requests
from x402 import x402ClientSync
from x402.http.clients import wrapRequestsWithPayment
from x402.mechanisms.evm.exact import ExactEvmClientScheme

from signerd.client import Client
from signerd.errors import SignerdError
from signerd.payments.x402_fetch import signerd_cause
from signerd.payments.x402_signer import SignerdEvmSigner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--grant", required=True, help="the grant to pay from")
    parser.add_argument("--socket", type=Path, help="signerd's socket (default: $SIGNERD_SOCKET)")
    args = parser.parse_args()

    with Client(args.socket) as signerd:
        grant = signerd.get_grant(args.grant)
        network = f"eip155:{grant['chainId']}"
        tokens = [a["token"] for a in grant["grant"]["typedData"]["message"]["allowances"]]

        signer = SignerdEvmSigner(signerd, args.grant)  # x402's ClientEvmSigner, via signerd
        payer = x402ClientSync()
        payer.register(network, ExactEvmClientScheme(signer))
        # x402 pays only in the assets it knows by default; name the grant's tokens.
        allowed = [{"network": network, "asset": token} for token in tokens]
        payer.set_spend_controls({"allowed_assets": allowed})
        http = wrapRequestsWithPayment(requests.Session(), payer)
        try:
            response = http.get(args.url, timeout=60)
        except Exception as exc:  # x402 wraps the signer's errors: show signerd's own
            refusal: SignerdError | None = signerd_cause(exc)
            if refusal is None:
                raise
            print(f"signerd refused: {refusal.message} [{refusal.name}]", file=sys.stderr)
            return 1

    for spend in signer.spends:
        print(f"paid {spend['amount']} of {spend['token']} to {spend['payee']}", file=sys.stderr)
    print(response.text)
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
