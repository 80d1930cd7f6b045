"""Where the payment flow gets a session key to sign with: the daemon's held keys.

A Protocol, so the flow does not depend on how keys are held (sealed under a device secret,
see DESIGN.md "Spending"); ``NoHeldKeys`` stands in where the daemon holds none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from signerd.errors import PaymentRefused

if TYPE_CHECKING:  # eth-keys is imported where a key is made
    from eth_keys.datatypes import PrivateKey


class SessionKeys(Protocol):
    """The daemon's held session keys, by address."""

    async def signing_key(self, address: str) -> PrivateKey:
        """The key of ``address`` (checksummed); raises a SignerdError when the daemon does not
        hold it or cannot use it now (say, the device has not unlocked the held keys)."""
        ...


class NoHeldKeys:
    """A daemon that holds no session keys: every payment is refused before anything else."""

    async def signing_key(self, address: str) -> PrivateKey:
        raise PaymentRefused(f"the daemon holds no key for {address}", {"reason": "key_not_held"})
