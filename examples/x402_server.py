"""An x402 resource server that sells one JSON resource for test USDC, settling on a local chain.

Built only from the PyPI `x402` package's own parts: its Flask payment middleware in front of
the route, and its in-process facilitator (`x402FacilitatorSync` with the `exact` EVM scheme)
that verifies each EIP-3009 authorization and submits `transferWithAuthorization` to the node
with a gas-funded facilitator key. The tests and the demo run it against anvil
(emulator/chain.py):

    app = make_app(anvil.rpc_url, usdc, pay_to, 10_000, facilitator_key=key)
    with serve_in_thread(app) as server:
        requests.get(server.url + PAID_PATH)        # 402 with PAYMENT-REQUIRED

or from a shell (the token must already be deployed; the key must hold ether for gas):

    python examples/x402_server.py --rpc-url URL --token ADDRESS --pay-to ADDRESS \
        --price 10000 --facilitator-key 0x... [--port 8402]
"""

from __future__ import annotations

import argparse
import threading
from types import TracebackType
from typing import Any, Self

from flask import Flask, jsonify
from werkzeug.serving import BaseWSGIServer, make_server
from x402 import x402FacilitatorSync, x402ResourceServerSync
from x402.http import PaymentOption, RouteConfig
from x402.http.middleware.flask import payment_middleware
from x402.mechanisms.evm import FacilitatorWeb3Signer
from x402.mechanisms.evm.exact import ExactEvmServerScheme, register_exact_evm_facilitator

from emulator.chain import Token, connect, load_artifact

# The one paid route, and a free one that says the server is up.
PAID_PATH = "/weather"
HEALTH_PATH = "/health"
# How long a signed authorization stays valid (the client's validBefore = now + this).
PAYMENT_TIMEOUT_SECONDS = 300
# The facilitator waits this long for a settlement receipt (anvil mines at once).
CONFIRMATION_TIMEOUT_SECONDS = 15.0


def make_app(rpc_url: str, token: Token, pay_to: str, price: int, *, facilitator_key: str) -> Flask:
    """A Flask app selling GET PAID_PATH for `price` base units of `token`, paid to `pay_to`.

    `facilitator_key` (hex) signs the settlement transactions and must hold ether for gas.
    """
    facilitator = x402FacilitatorSync()
    signer = FacilitatorWeb3Signer(
        private_key=facilitator_key,
        rpc_url=rpc_url,
        confirmation_timeout_seconds=CONFIRMATION_TIMEOUT_SECONDS,
    )
    register_exact_evm_facilitator(facilitator, signer, networks=token.network)

    # The facilitator runs in this process: x402's resource server takes it as its client.
    server = x402ResourceServerSync(facilitator)
    server.register(token.network, ExactEvmServerScheme())

    routes = {
        f"GET {PAID_PATH}": RouteConfig(
            accepts=PaymentOption(
                scheme="exact",
                pay_to=pay_to,
                # An asset x402 has no table entry for: amount in base units, and the EIP-712
                # domain the payer signs under, exactly as the contract reports it.
                price={
                    "amount": str(price),
                    "asset": token.address,
                    "extra": {"name": token.name, "version": token.version},
                },
                network=token.network,
                max_timeout_seconds=PAYMENT_TIMEOUT_SECONDS,
            ),
            description="Today's weather, one paid call",
            mime_type="application/json",
        )
    }

    app = Flask(__name__)

    @app.get(PAID_PATH)
    def weather() -> Any:
        return jsonify({"forecast": "sunny", "price": str(price)})

    @app.get(HEALTH_PATH)
    def health() -> Any:
        return jsonify({"ok": True})

    payment_middleware(app, routes, server)
    return app


class ServedApp:
    """A WSGI app served on a free loopback port from a daemon thread: url, stop()."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="x402-server", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.shutdown()
        self._thread.join(timeout)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(app: Flask, port: int = 0) -> ServedApp:
    """Serve `app` on 127.0.0.1 (`port` 0 = any free one); stop() or use as a context manager."""
    return ServedApp(app, port)


def token_at(rpc_url: str, address: str) -> Token:
    """Read an already deployed FiatToken's domain from the chain."""
    w3 = connect(rpc_url)
    usdc = w3.eth.contract(
        address=w3.to_checksum_address(address), abi=load_artifact("v2", "FiatTokenV2_2")["abi"]
    )
    return Token(
        address=usdc.address,
        chain_id=w3.eth.chain_id,
        name=usdc.functions.name().call(),
        version=usdc.functions.version().call(),
        decimals=usdc.functions.decimals().call(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--token", required=True, help="the FiatToken's address")
    parser.add_argument("--pay-to", required=True)
    parser.add_argument("--price", type=int, required=True, help="base units per call")
    parser.add_argument("--facilitator-key", required=True, help="hex key holding gas money")
    parser.add_argument("--port", type=int, default=8402)
    args = parser.parse_args()
    token = token_at(args.rpc_url, args.token)
    app = make_app(
        args.rpc_url, token, args.pay_to, args.price, facilitator_key=args.facilitator_key
    )
    make_server("127.0.0.1", args.port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
