"""A signed grant as the delegation that enforces its limits on chain, and the check back.

The caveats carry the grant's on-chain ceiling with MetaMask's own enforcers:
- every allowance becomes a period-transfer limit (fixed windows of `period` seconds from
  `validAfter`, as `signerd.grants.caps` counts them off chain; period 0 = one window over the
  whole validity). All caveats of a delegation apply to every execution, so one token's
  allowances are one ERC20PeriodTransferEnforcer (or NativeTokenPeriodTransferEnforcer)
  caveat each, which all must pass, like the off-chain budget; a grant over several tokens
  uses one MultiTokenPeriodEnforcer entry per token instead (stacked single-token caveats
  would refuse every transfer). Several tokens with one of them capped twice cannot be said
  exactly with these enforcers (the multi-token one checks only the entry the redeemer
  names) and are refused rather than weakened;
- a TimestampEnforcer window: usable from `validAfter` to before `validUntil`;
- an ERC-20 delegation carries ValueLte 0 (no ether rides along); a native one carries
  ExactCalldata empty (plain transfers, no contract calls) and ValueLte of the smallest
  per-payment maximum when the grant sets one.
The period enforcers pin each execution to a token transfer, so AllowedTargets would add
nothing, and only the delegate (the session key) can redeem, so no RedeemerEnforcer. What
stays off chain only: ERC-20 per-payment maxima, payees and the grant's `targets` (the
delegation moves tokens from the person's account and allows no other call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signerd.addresses import to_checksum_address
from signerd.errors import DelegationMismatch, DelegationUnsupported
from signerd.grants.caps import grant_allowances
from signerd.grants.request import AllowanceSpec
from signerd.onchain.caveats import (
    NATIVE,
    Enforcers,
    PeriodTerms,
    erc20_period_terms,
    multi_token_terms,
    native_period_terms,
    timestamp_terms,
    value_lte_terms,
)
from signerd.onchain.delegation import ROOT_AUTHORITY, Caveat, Delegation


def compile_delegation(
    grant: Mapping[str, Any], delegator: str, enforcers: Enforcers
) -> Delegation:
    """The unsigned delegation from `delegator` (the person's DeleGator) for a signed grant."""
    message = grant["typedData"]["message"]
    valid_after, valid_until = int(message["validAfter"]), int(message["validUntil"])
    if valid_after == 0:
        raise DelegationUnsupported(
            "the period enforcers need a start date: the grant has no validAfter",
            {"field": "validAfter"},
        )
    allowances = grant_allowances(grant)
    caveats = [
        Caveat(enforcers.timestamp, timestamp_terms(valid_after - 1, valid_until)),
        *_transfer_caveats(allowances, valid_after, valid_until, enforcers),
    ]
    return Delegation(
        delegate=to_checksum_address(message["sessionKey"]),
        delegator=to_checksum_address(delegator),
        authority=ROOT_AUTHORITY,
        caveats=tuple(caveats),
        salt=int(str(grant["id"]), 16),
    )


def _transfer_caveats(
    allowances: tuple[AllowanceSpec, ...], valid_after: int, valid_until: int, e: Enforcers
) -> list[Caveat]:
    limits = tuple(
        PeriodTerms(a.token, a.amount, a.period or valid_until - valid_after, valid_after)
        for a in allowances
    )
    tokens = {limit.token.lower() for limit in limits}
    if len(tokens) > 1:
        if len(tokens) != len(limits):
            raise DelegationUnsupported(
                "a grant over several tokens may cap each token once on chain",
                {"field": "allowances"},
            )
        return [Caveat(e.multi_token_period, multi_token_terms(limits))]
    if tokens == {NATIVE}:
        caveats = [Caveat(e.native_period, native_period_terms(x)) for x in limits]
        caveats.append(Caveat(e.exact_calldata, b""))
        maxima = [a.max_per_payment for a in allowances if a.max_per_payment]
        if maxima:
            caveats.append(Caveat(e.value_lte, value_lte_terms(min(maxima))))
        return caveats
    caveats = [Caveat(e.erc20_period, erc20_period_terms(x)) for x in limits]
    caveats.append(Caveat(e.value_lte, value_lte_terms(0)))
    return caveats


def verify_delegation(
    grant: Mapping[str, Any], delegation: Delegation, enforcers: Enforcers
) -> None:
    """DelegationMismatch unless `delegation` encodes exactly the grant's limits (any
    delegator: which account it comes from is the caller's to check)."""
    expected = compile_delegation(grant, delegation.delegator, enforcers)
    for name in ("delegate", "authority", "salt"):
        if getattr(delegation, name) != getattr(expected, name):
            raise DelegationMismatch(f"the delegation's {name} is not the grant's", {"field": name})
    if len(delegation.caveats) != len(expected.caveats):
        raise DelegationMismatch(
            f"the delegation has {len(delegation.caveats)} caveats, the grant needs "
            f"{len(expected.caveats)}",
            {"field": "caveats"},
        )
    for index, (got, want) in enumerate(zip(delegation.caveats, expected.caveats, strict=True)):
        if got.enforcer.lower() != want.enforcer.lower() or got.terms != want.terms:
            raise DelegationMismatch(
                f"caveat {index} does not encode the grant's limit", {"field": f"caveats.{index}"}
            )
