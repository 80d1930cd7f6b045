"""``signerd_signPayment``: durable payments per second, beside the no-daemon path and the floor.

The daemon runs as its own process on the simulated Trezor, with a held-key grant the
simulator approved (a budget no run exhausts); the load comes from bench/loadgen.py in
another process, every request an EIP-3009 authorization with its own nonce, so each is a
new spend checked, signed and committed in one durable transaction. Rows:
- 1 client and 50 clients, closed loop: payments per second, p50 and p99 as each client sees
  them (the targets: >= 5,000/s at 50 clients, single-client p99 < 2 ms);
- the same authorization signed by the agent itself with eth-account
  (``Account.sign_typed_data``, what an agent holding its own hot key would run): per second;
- raw secp256k1 signing of its 32-byte digest with coincurve: per second, the floor.

Checked, so a fast wrong answer cannot pass: every client's first reply is a signature that
recovers to the grant's session key, and the ledger's spent total equals the number of
payments answered and sent (the load generator hangs up with some still in flight: the
daemon finishes those, as it must once a spend is reserved).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import coincurve
from eth_account import Account
from eth_account.messages import encode_typed_data

from bench import loadgen
from bench.report import Row, percentile
from bench.samples import USDC_BASE, idle_daemon, random_address
from signerd.client import Client
from signerd.launch import DaemonProcess
from signerd.payments.eip3009 import parse_authorization, transfer_authorization

GROUP = "6 signerd_signPayment"
DOMAIN = {"name": "USD Coin", "version": "2", "chainId": 8453, "verifyingContract": USDC_BASE}
BUDGET = 10**12  # base units a day: more than any run spends at one unit a payment


def _grant(client: Client) -> tuple[str, str]:
    """A held-key grant approved on the simulator: (its id, the session key's address)."""
    reply = client.request_grant(
        custody="daemon",
        agent="bench-payer",
        chainId=8453,
        allowances=[{"token": USDC_BASE, "amount": str(BUDGET), "period": 86400}],
        payees=[],
        targets=[],
        validFor=3600,
    )
    grant = reply["grant"]
    return grant["id"], grant["typedData"]["message"]["sessionKey"]


def _requests(path: Path, grant_id: str, session: str, count: int) -> None:
    payee = random_address()
    valid_before = int(time.time()) + 3000
    with path.open("w") as out:
        for seq in range(count):
            document = transfer_authorization(DOMAIN, session, payee, 1, valid_before)
            params = {"grantId": grant_id, "typedData": document}
            out.write(
                json.dumps({"jsonrpc": "2.0", "id": seq, "method": "signerd_signPayment",
                            "params": params}, separators=(",", ":")) + "\n"
            )  # fmt: skip


def _load(daemon: DaemonProcess, requests: Path, clients: int, duration: float) -> dict[str, Any]:
    assert daemon.proc is not None
    args = ("--requests", str(requests), "--clients", str(clients))
    result = loadgen.run_against(str(daemon.socket_path), daemon.proc.pid, duration, *args)
    if result["ran_dry"]:
        raise RuntimeError("the load generator ran out of payments: raise the sample size")
    return result


def _check(result: dict[str, Any], requests: Path, session: str) -> None:
    """Every first reply is a signature of its request that recovers to the session key."""
    documents = {}
    with requests.open() as lines:
        for line in lines:
            request = json.loads(line)
            documents[request["params"]["typedData"]["message"]["nonce"]] = request
    for reply in result["first_replies"]:
        document = documents[reply["result"]["spend"]["key"]]["params"]["typedData"]
        signable = encode_typed_data(full_message=document)
        signer = Account.recover_message(signable, signature=reply["result"]["signature"])
        if signer != session:
            raise RuntimeError(f"a payment signature recovers to {signer}, not {session}")


def _per_second(action: Any, items: list[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        action(item)
    return len(items) / (time.perf_counter() - start)


def _alternatives(count: int) -> list[Row]:
    account = Account.create()
    documents = [
        transfer_authorization(DOMAIN, account.address, random_address(), 1, 2**40)
        for _ in range(count)
    ]
    agent = _per_second(lambda d: account.sign_typed_data(full_message=d), documents)
    key = coincurve.PrivateKey(bytes(account.key))
    digests = [parse_authorization(d).digest for d in documents]
    floor = _per_second(lambda d: key.sign_recoverable(d, hasher=None), digests * 10)
    return [
        Row(GROUP, "agent signs itself (eth-account), rate", agent, "/s", note="no daemon"),
        Row(GROUP, "raw secp256k1 sign (coincurve), rate", floor, "/s", note="the floor"),
    ]


def run(duration: float = 3.0) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="signerd-bench-") as tmp:
        workdir = Path(tmp)
        with idle_daemon(workdir) as daemon, Client(daemon.socket_path) as client:
            grant_id, session = _grant(client)
            answered = sent = 0
            for clients, capacity in ((1, 2_000), (50, 12_000)):
                requests = workdir / f"payments-{clients}.jsonl"
                _requests(requests, grant_id, session, int(capacity * (duration + 1.5)))
                result = _load(daemon, requests, clients, duration)
                _check(result, requests, session)
                answered += result["replies"]
                sent += result["sent"]
                latencies = result["latencies_ms"]
                name = f"{clients} client{'s' if clients > 1 else ''} closed loop"
                cpu = f"daemon CPU {result['server_cpu']:.0%}"
                p99_target = ("<", 2.0) if clients == 1 else None
                rate_target = (">=", 5_000.0) if clients == 50 else None
                rows += [
                    Row(GROUP, f"{name}, rate", result["rate"], "/s", rate_target, cpu),
                    Row(GROUP, f"{name}, p50", percentile(latencies, 50), "ms"),
                    Row(GROUP, f"{name}, p99", percentile(latencies, 99), "ms", p99_target),
                ]
                os.unlink(requests)
            [standing] = client.call("signerd_getBudget", {"grantId": grant_id})["allowances"]
            if not answered <= int(standing["spent"]) <= sent:
                raise RuntimeError(
                    f"the ledger spent {standing['spent']}: {answered} answered of {sent} sent"
                )
    return rows + _alternatives(500)
