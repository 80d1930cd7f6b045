"""Spending caps of a grant: its allowances for a token and the period window at an instant.

Pure functions, shared by the off-chain spend ledger and (later) the on-chain caveats, so the
two agree on what "per period" means. The semantics are those of MetaMask's
ERC20PeriodTransferEnforcer: fixed windows of ``period`` seconds starting at ``validAfter``
(window k is ``[validAfter + k*period, validAfter + (k+1)*period)``); an amount left unused in
one window does not carry over to the next. Period 0 is one window over the grant's whole
validity. The last window is clipped to ``validUntil``, where the grant ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signerd.errors import ValidationError
from signerd.grants.request import AllowanceSpec, parse_allowances

_ALLOWANCES_FIELD = "typedData.message.allowances"


@dataclass(frozen=True)
class Window:
    """The half-open interval ``[start, end)`` of Unix seconds one allowance's cap covers."""

    start: int
    end: int

    def __contains__(self, instant: int) -> bool:
        return self.start <= instant < self.end


def window_at(valid_after: int, valid_until: int, period: int, now: int) -> Window | None:
    """The window containing ``now``, or None when ``now`` is outside the grant's validity.

    The validity is ``validAfter <= now < validUntil`` (as signerd.grants.verify judges it),
    so None means the grant is not yet valid or has expired: nothing can be spent then, and
    there is no window to count spends in. Raises ValidationError for a negative period or
    an empty validity, which no signed grant has.
    """
    if period < 0:
        raise ValidationError("period", "must not be negative")
    if valid_until <= valid_after:
        raise ValidationError("validUntil", "must end after validAfter")
    if not valid_after <= now < valid_until:
        return None
    if period == 0:
        return Window(valid_after, valid_until)
    start = valid_after + (now - valid_after) // period * period
    return Window(start, min(start + period, valid_until))


def grant_allowances(document: Mapping[str, Any]) -> tuple[AllowanceSpec, ...]:
    """Every allowance of a signed-grant document, in the order the device showed them.

    Read with the same parser a verifier uses, so a document that is not a valid grant
    raises ValidationError naming the field.
    """
    typed_data = document.get("typedData")
    message = typed_data.get("message") if isinstance(typed_data, Mapping) else None
    if not isinstance(message, Mapping) or "allowances" not in message:
        raise ValidationError(_ALLOWANCES_FIELD, "is missing from the grant document")
    return parse_allowances(message["allowances"], _ALLOWANCES_FIELD)


def allowances_for(allowances: Iterable[AllowanceSpec], token: str) -> tuple[AllowanceSpec, ...]:
    """The allowances (of a grant) that cap ``token`` (an address, any hex case).

    A grant may cap one token several times with different periods (say 10 per day and 50
    in total): a spend must fit every one of them. Empty: the grant does not allow the token.
    """
    wanted = token.lower()
    return tuple(a for a in allowances if a.token.lower() == wanted)
