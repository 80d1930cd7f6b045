"""Store reads over the socket with 100,000 grants stored: signerd_getGrant and the first page
of signerd_listGrants.

Setup (not timed): 100,000 distinct grants are signed with the simulators' master key in
worker processes (EIP-712 digest + secp256k1 signature: each a grant ``verify_grant``
accepts, created over the last ~12 days, one hour to one day long, so the store holds a
realistic mix of active and expired grants) and written through ``Store.add_grants``, the
daemon's own write path, in transactions of 2,000, each grant with its "approved" audit
entry. Then the daemon is started on that data directory and the calls are timed from the
bench process.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eth_keys.datatypes import PrivateKey

from bench.report import Row, percentile
from bench.samples import TARGET, USDC_BASE, master_account, random_address, wait_until_idle
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.grants import PRIMARY_TYPE, grant_digest, grant_id, verify_grant
from signerd.grants.v1 import DOMAIN_NAME_V1 as DOMAIN_NAME
from signerd.grants.v1 import DOMAIN_VERSION_V1 as DOMAIN_VERSION
from signerd.grants.v1 import TYPES_V1 as TYPES
from signerd.grants.v1 import summarize_v1 as summarize
from signerd.launch import DaemonProcess
from signerd.store import Store, StoredGrant

SPACING_SECONDS = 10.0  # between two grants' creation times
DEVICE = "trezor Safe 3 udp:127.0.0.1"
_CHUNK = 2_000
_TOTAL = 100_000


def _documents(args: tuple[int, int, int, float, bytes]) -> list[dict[str, Any]]:
    """Signed grants ``first``..``first + count - 1`` of ``total`` (runs in a worker process)."""
    first, count, total, now, secret = args
    key = PrivateKey(secret)
    account = key.public_key.to_checksum_address()
    rng = random.Random(first)
    documents = []
    for index in range(first, first + count):
        created = int(now - (total - index) * SPACING_SECONDS)
        message: dict[str, Any] = {
            "account": account,
            "sessionKey": random_address(),
            "agent": f"bench-agent-{index % 50} (uid 1000, pid {1000 + index % 30000}, python3)",
            "summary": "",
            "allowances": [
                {"token": USDC_BASE, "amount": rng.randrange(1, 10**9), "period": 86400}
            ],
            "targets": [TARGET],
            "validAfter": created,
            "validUntil": created + rng.choice((3600, 86400)),
            "nonce": rng.getrandbits(64),
        }
        message["summary"] = summarize(message, 8453)
        typed = {
            "types": TYPES,
            "primaryType": PRIMARY_TYPE,
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": 8453},
            "message": message,
        }
        digest = grant_digest(typed)
        signature = key.sign_msg_hash(digest).to_bytes()
        documents.append(
            {
                "id": grant_id(digest),
                "typedData": typed,
                "signature": "0x" + signature[:64].hex() + f"{signature[64] + 27:02x}",
                "signer": account,
            }
        )
    return documents


def _generated(count: int, now: float) -> Iterator[list[dict[str, Any]]]:
    secret = bytes(master_account().key)
    chunks = [
        (first, min(_CHUNK, count - first), count, now, secret) for first in range(0, count, _CHUNK)
    ]
    with multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        yield from pool.imap(_documents, chunks)


def fill(data_dir: Path, count: int) -> list[str]:
    """Store ``count`` signed grants in ``data_dir``, oldest first; returns their ids."""
    now = time.time()
    ids: list[str] = []
    with Store.open(data_dir) as store:
        for documents in _generated(count, now):
            first = documents[0]
            check = verify_grant(first, now=first["typedData"]["message"]["validAfter"])
            if not check.valid:
                raise RuntimeError(f"generated an invalid grant: {check}")
            grants = [
                StoredGrant.from_document(
                    document,
                    device=DEVICE,
                    peer_uid=os.getuid(),
                    created_at=now - (count - len(ids) - offset) * SPACING_SECONDS,
                )
                for offset, document in enumerate(documents)
            ]
            store.add_grants(grants, audit_detail={"device": DEVICE})
            ids.extend(document["id"] for document in documents)
    return ids


def _timed(client: Client, method: str, params: dict[str, Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = client.call(method, params)
    return (time.perf_counter() - start) * 1e3, result


def run(count: int = _TOTAL, calls: int = 500) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="signerd-bench-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        ids = fill(workdir / "data", count)
        fill_seconds = time.perf_counter() - started
        rng = random.Random(1)
        with (
            TrezorSimulatorProcess(auto="approve", log_path=workdir / "trezor-sim.log") as sim,
            DaemonProcess(sim.path, workdir) as daemon,
            Client(daemon.socket_path) as client,
        ):
            wait_until_idle(client)
            for _ in range(20):  # warm-up: the first reads page the indexes in
                client.call("signerd_getGrant", {"id": rng.choice(ids)})
                client.call("signerd_listGrants", {})
            get_ms = []
            for _ in range(calls):
                wanted = rng.choice(ids)
                elapsed, result = _timed(client, "signerd_getGrant", {"id": wanted})
                if result["id"] != wanted:
                    raise RuntimeError("getGrant returned another grant")
                get_ms.append(elapsed)
            list_ms = []
            active_ms = []
            for _ in range(calls):
                elapsed, result = _timed(client, "signerd_listGrants", {})
                if result["grants"][0]["id"] != ids[-1] or len(result["grants"]) != 50:
                    raise RuntimeError("listGrants did not start with the newest grant")
                list_ms.append(elapsed)
                elapsed, result = _timed(client, "signerd_listGrants", {"status": "active"})
                active_ms.append(elapsed)
    note = f"n={calls} calls, one client; fill took {fill_seconds:.0f} s"
    group = f"4 store, {count // 1000}k grants"
    return [
        Row(group, "getGrant p50", percentile(get_ms, 50), "ms", note=note),
        Row(group, "getGrant p99", percentile(get_ms, 99), "ms", ("<", 5.0)),
        Row(group, "listGrants first page p50", percentile(list_ms, 50), "ms", note="50 grants"),
        Row(group, "listGrants first page p99", percentile(list_ms, 99), "ms", ("<", 5.0)),
        Row(
            group,
            "listGrants status=active p99",
            percentile(active_ms, 99),
            "ms",
            note="first page",
        ),
    ]
