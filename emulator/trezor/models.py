"""The simulated Trezor's models and the events its device thread consumes.

Model facts follow what each firmware reports in Features (core/v2.12.4 for the T, Safe 3 and
Safe 5; legacy 1.12.1 for the One).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from trezorlib import messages

from emulator.trezor.wire import Address

Cap = messages.Capability


@dataclass(frozen=True)
class ModelSpec:
    """What the Features of one Trezor model say, and what its firmware can do."""

    key: str
    name: str
    internal_model: str
    version: tuple[int, int, int]
    capabilities: tuple[messages.Capability, ...]
    typed_data: bool  # streams EthereumSignTypedData (core); the One only signs hashes


CORE_CAPABILITIES = (
    Cap.Bitcoin,
    Cap.Bitcoin_like,
    Cap.Cardano,
    Cap.Crypto,
    Cap.Ethereum,
    Cap.Monero,
    Cap.Ripple,
    Cap.Stellar,
    Cap.Tezos,
    Cap.U2F,
    Cap.Shamir,
    Cap.ShamirGroups,
    Cap.PassphraseEntry,
    Cap.Solana,
    Cap.Translations,
)

MODELS: dict[str, ModelSpec] = {
    # Core models run the screens of core/v2.12.4 (emulator/trezor/layouts.py).
    "safe3": ModelSpec("safe3", "Safe 3", "T2B1", (2, 12, 4), CORE_CAPABILITIES, True),
    "safe5": ModelSpec("safe5", "Safe 5", "T3T1", (2, 12, 4), CORE_CAPABILITIES, True),
    "t": ModelSpec("t", "T", "T2T1", (2, 12, 4), CORE_CAPABILITIES, True),
    "one": ModelSpec(
        "one",
        "1",
        "T1B1",
        (1, 12, 1),
        (Cap.Bitcoin, Cap.Bitcoin_like, Cap.Crypto, Cap.Ethereum, Cap.NEM, Cap.Stellar, Cap.U2F),
        False,
    ),
}


class Approval(enum.Enum):
    """Who answers confirmations: a person (debug link / terminal) or a fixed policy."""

    MANUAL = "manual"
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Faults:
    """Misbehaviours for hardening the host (see `signerd-emulator trezor --help`)."""

    drop_after: int | None = None
    stall: bool = False
    garbage: bool = False


@dataclass(frozen=True)
class WireEvent:
    peer: Address
    msg_type: int
    payload: bytes


@dataclass(frozen=True)
class PressEvent:
    button: messages.DebugButton


Event = WireEvent | PressEvent | None  # None stops the device thread
