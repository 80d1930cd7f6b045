"""An example agent: brings its own session key, asks signerd for a capped grant, checks it.

    python examples/agent.py [--socket PATH]

This is what an autonomous agent does before paying for an API with x402 micropayments:
it never sees the person's master key, only a grant the person approved on the device.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eth_account import Account

from signerd.client import Client
from signerd.errors import SignerdError
from signerd.grants import verify_grant

USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
WEATHER_API_PAYEE = "0x1111111254EEB25477B68fb85Ed929f73A960582"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", type=Path, help="signerd's socket (default: the standard one)")
    args = parser.parse_args()

    session_key = Account.create()  # the agent's own key; only its address leaves the agent
    with Client(args.socket) as signerd:
        master = signerd.status()["account"]
        print(f"agent: asking signerd for a grant for session key {session_key.address}")
        try:
            reply = signerd.request_grant(
                agent="weather-bot",
                sessionKey=session_key.address,
                chainId=8453,
                allowances=[{"token": USDC_BASE, "amount": "10000000", "period": 86400}],
                targets=[WEATHER_API_PAYEE],
                validFor=86400,
                on_progress=lambda line: print(f"agent: signerd says: {line}"),
            )
        except SignerdError as exc:
            print(f"agent: no grant: {exc.message} ({exc.name})", file=sys.stderr)
            return 1
    grant = reply["grant"]
    master = master or grant["typedData"]["message"]["account"]
    check = verify_grant(grant, expected_signer=master)
    print(f"agent: grant {grant['id']}")
    print(f"agent: summary: {grant['typedData']['message']['summary']}")
    print(f"agent: verified offline: {check.valid} (signed by {check.signer})")
    print(json.dumps(grant, indent=2))
    return 0 if check.valid else 1


if __name__ == "__main__":
    sys.exit(main())
