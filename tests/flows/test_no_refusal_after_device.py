"""Everything checkable is checked before the device: no request is refused once shown.

Hypothesis sends requests near every limit (chain ids, amounts, periods, windows, unknown
tokens, payees, long labels, policy ceilings) through the daemon's methods on an approving
FakeSigner. Whatever happens to a request, if the person was shown it, it ends approved and
stored: the person never approves something the daemon then throws away.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signerd.config import Policy
from signerd.errors import SignerdError
from tests.fakes import FakeSigner
from tests.flows.harness import Harness, running
from tests.support import NATIVE, TARGET, USDC_BASE

UINT256 = 2**256 - 1
NOW = int(time.time())

addresses = st.sampled_from(
    [USDC_BASE, NATIVE, TARGET, "0x" + "99" * 20, "0x036CbD53842c5426634e7929541eC2318f3dCF7e"]
)
amounts = st.one_of(
    st.integers(0, 10**7), st.integers(0, UINT256), st.just(UINT256), st.just(UINT256 + 1)
)
periods = st.sampled_from([0, 1, 60, 3600, 86400, 604800, 2**64 - 1, 2**64])
allowance = st.fixed_dictionaries(
    {"token": addresses, "amount": amounts.map(str), "period": periods},
    optional={"maxPerPayment": amounts.map(str)},
)
requests = st.fixed_dictionaries(
    {
        "agent": st.sampled_from(["bot", "weather-bot", "a" * 48, "a" * 49, "x(y)", ""]),
        "sessionKey": addresses,
        "chainId": st.sampled_from([1, 8453, 84532, 999, 2**63 - 37, 2**63, UINT256]),
        "allowances": st.lists(allowance, max_size=4),
        "targets": st.lists(addresses, max_size=3),
    },
    optional={
        "payees": st.lists(addresses, max_size=3),
        "validAfter": st.sampled_from([NOW - 60, NOW, NOW + 86400, NOW + 300 * 86400, 2**64]),
        "validFor": st.sampled_from([1, 60, 3600, 86400 * 365, 86400 * 3650, 2**40]),
        "nonce": st.sampled_from([0, 1, 2**64, UINT256, UINT256 + 1]),
    },
)
POLICY = Policy(max_validity=30 * 86400, max_allowance={USDC_BASE: 100 * 10**6})


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=requests)
def test_a_request_shown_on_the_device_is_never_refused_after(request: dict[str, Any]) -> None:
    async def ask(harness: Harness) -> SignerdError | None:
        try:
            await harness.call("signerd_requestGrant", request)
        except SignerdError as exc:
            return exc
        return None

    with (
        tempfile.TemporaryDirectory() as tmp,
        running(Path(tmp), FakeSigner(answer="approve"), policy=POLICY) as harness,
    ):
        refusal = asyncio.run(ask(harness))
        events = harness.outcomes()
    if "shown_on_device" in events:
        assert refusal is None, f"refused after the person saw it: {refusal!r} ({events})"
        assert events[-1] == "approved", events
    else:
        assert harness.fake.prompts == 0
