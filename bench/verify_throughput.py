"""``signerd.grants.verify_grant`` in-process, one thread: grants verified per second.

Each grant is distinct (own session key and nonce) and has been through JSON, as a verifier
receives it; every one must verify. The master address, tokens and targets recur, as they
do for a verifier checking one person's grants.
"""

from __future__ import annotations

import json
import time

from bench.report import Row
from bench.samples import signed_grants
from signerd.grants import verify_grant

GROUP = "3 verify_grant"


def run(count: int = 4_000) -> list[Row]:
    grants = json.loads(json.dumps(signed_grants(count + 200)))
    for grant in grants[:200]:  # warm-up
        verify_grant(grant)
    start = time.process_time()
    wall = time.perf_counter()
    for grant in grants[200:]:
        if not verify_grant(grant).valid:
            raise RuntimeError("a sample grant did not verify")
    cpu = time.process_time() - start
    wall = time.perf_counter() - wall
    note = f"n={count}, one thread; {count / wall:,.0f}/s by the wall clock"
    return [Row(GROUP, "grants verified per CPU-second", count / cpu, "/s", (">=", 2000.0), note)]
