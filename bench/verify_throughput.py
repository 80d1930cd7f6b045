"""Grant verification per CPU-second, one thread, beside the generic path and the floor.

Rows, on the same grants:
- ``signerd.grants.verify_grant`` (every check: schema, summary, signature, signer, id,
  validity), the target being >= 10,000 per CPU-second;
- eth-account's generic path, what a verifier without signerd would run:
  ``Account.recover_message(encode_typed_data(full_message=...), signature=...)``, which only
  hashes and recovers (none of the checks);
- libsecp256k1 recovery of the precomputed digest through coincurve: the floor.

Each grant is distinct (own session key and nonce) and has been through JSON, as a verifier
receives it; every one must verify, and the generic path must recover its signer. The master
address, tokens and targets recur, as they do for a verifier checking one person's grants.
CPU time, not wall time: other work on the machine does not count against a figure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import coincurve
from eth_account import Account
from eth_account.messages import encode_typed_data

from bench.report import Row
from bench.samples import signed_grants
from signerd.grants import grant_digest, verify_grant

GROUP = "3 verify_grant"
_WARM_UP = 200


def _per_cpu_second(items: Sequence[Any], work: Callable[[Any], None]) -> tuple[float, float]:
    """(items per CPU-second, items per wall-clock second) of ``work`` over ``items``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for item in items:
        work(item)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return len(items) / cpu, len(items) / wall


def _signerd(grant: dict[str, Any]) -> None:
    if not verify_grant(grant).valid:
        raise RuntimeError("a sample grant did not verify")


def _eth_account(grant: dict[str, Any]) -> None:
    signable = encode_typed_data(full_message=grant["typedData"])
    if Account.recover_message(signable, signature=grant["signature"]) != grant["signer"]:
        raise RuntimeError("eth-account recovered another signer")


def _floor(digest_and_signature: tuple[bytes, bytes]) -> None:
    digest, signature = digest_and_signature
    coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)


def run(count: int = 4_000) -> list[Row]:
    grants = json.loads(json.dumps(signed_grants(count + _WARM_UP)))
    warm, measured = grants[:_WARM_UP], grants[_WARM_UP:]
    # eth-account's path is ~20 times slower: a quarter of the sample measures it as well.
    generic = measured[: max(count // 4, 1)]
    recoverable = []
    for grant in measured:
        signature = bytes.fromhex(grant["signature"][2:])
        recoverable.append(
            (grant_digest(grant["typedData"]), signature[:64] + bytes([signature[64] - 27]))
        )
    for grant in warm:
        _signerd(grant)
        _eth_account(grant)
    ours, ours_wall = _per_cpu_second(measured, _signerd)
    theirs, _ = _per_cpu_second(generic, _eth_account)
    floor, _ = _per_cpu_second(recoverable, _floor)
    return [
        Row(
            GROUP,
            "grants verified per CPU-second",
            ours,
            "/s",
            (">=", 10_000.0),
            f"n={count}, one thread, every check; {ours_wall:,.0f}/s by the wall clock",
        ),
        Row(
            GROUP,
            "eth-account encode_typed_data + recover_message",
            theirs,
            "/s",
            note=f"n={len(generic)}, the generic path, no checks; signerd is {ours / theirs:.1f}x",
        ),
        Row(
            GROUP,
            "secp256k1 recover of the digest (coincurve)",
            floor,
            "/s",
            note=f"the floor; signerd reaches {ours / floor:.0%} of it",
        ),
    ]
