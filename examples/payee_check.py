"""A payee's check of a grant before serving an agent that pays with it.

    python examples/payee_check.py grant.json --signer 0xMASTER --chain-id 8453 \\
        --payee 0xYOUR_ADDRESS --token 0xTOKEN --price 10000

Accepts (exit 0) only a grant that is signed by the person's master address (learnt out of
band, never from the grant), for your chain, valid now and for a while yet, lets payments go
to you, and has an allowance of your token from which one payment of your price fits. What
it relies on is what the signature covers: signerd's verify library recomputes the digest
and the summary, so nothing the agent could edit unsigned is trusted. Revocation is not
visible offline: ask the person's daemon (`signerd_verifyGrant`) or accept short windows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from signerd.grants import verify_grant
from signerd.grants.cli_input import load_signed_grant

MIN_VALIDITY_LEFT = 60  # seconds: do not start serving on a grant about to expire


def check(grant: dict, signer: str, chain_id: int, payee: str, token: str, price: int) -> list[str]:
    """What is wrong with ``grant`` for this payee; empty when it may be relied on."""
    verdict = verify_grant(grant, expected_signer=signer, expected_chain_id=chain_id)
    if not verdict.valid:
        return [f"not valid: {verdict.reason} ({verdict.detail})"]
    terms = verdict.terms or {}
    problems = []
    payees = [p.lower() for p in terms["payees"]]
    if payees and payee.lower() not in payees:
        problems.append(f"payments may not go to {payee} (only to {', '.join(terms['payees'])})")
    if int(terms["validUntil"]) - time.time() < MIN_VALIDITY_LEFT:
        problems.append(f"expires in less than {MIN_VALIDITY_LEFT} s")
    fits = [
        a
        for a in terms["allowances"]
        if a["token"].lower() == token.lower()
        and int(a["amount"]) >= price
        and (int(a["maxPerPayment"]) == 0 or int(a["maxPerPayment"]) >= price)
    ]
    if not fits:
        problems.append(f"no allowance of {token} lets one payment of {price} through")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grant", type=Path, help="the signed grant (JSON) the agent presented")
    parser.add_argument("--signer", required=True, help="the person's master address")
    parser.add_argument("--chain-id", type=int, required=True, help="the chain you are paid on")
    parser.add_argument("--payee", required=True, help="your address")
    parser.add_argument("--token", required=True, help="the token you are paid in")
    parser.add_argument("--price", type=int, required=True, help="one payment, in base units")
    args = parser.parse_args()

    # A signed grant, or the daemon's requestGrant reply holding one (`signerd request`).
    grant = load_signed_grant(args.grant.read_text(), str(args.grant))
    problems = check(grant, args.signer, args.chain_id, args.payee, args.token, args.price)
    summary = grant.get("typedData", {}).get("message", {}).get("summary", "?")
    if problems:
        print(f"refuse grant {grant.get('id')}: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"accept grant {grant['id']}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
