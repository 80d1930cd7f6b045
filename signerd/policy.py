"""Policy ceilings: pure checks that refuse a grant request before it reaches the device."""

from __future__ import annotations

from signerd.config import Policy
from signerd.errors import PolicyRefused
from signerd.grants import GrantRequest


def check_policy(request: GrantRequest, policy: Policy) -> None:
    """Raise PolicyRefused naming the first field beyond a ceiling."""
    window = request.valid_until - request.valid_after
    if policy.max_validity is not None and window > policy.max_validity:
        raise PolicyRefused(
            f"validity: {window} s exceeds the configured maximum of {policy.max_validity} s"
        )
    for index, allowance in enumerate(request.allowances):
        where = f"allowances.{index}"
        if policy.allowed_tokens is not None and allowance.token not in policy.allowed_tokens:
            raise PolicyRefused(f"{where}.token: {allowance.token} is not an allowed token")
        cap = policy.max_allowance.get(allowance.token)
        if cap is not None and allowance.amount > cap:
            raise PolicyRefused(
                f"{where}.amount: {allowance.amount} exceeds the configured maximum of {cap}"
            )
    for index, target in enumerate(request.targets):
        if policy.allowed_targets is not None and target not in policy.allowed_targets:
            raise PolicyRefused(f"targets.{index}: {target} is not an allowed target")
