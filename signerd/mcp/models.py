"""The MCP tools' typed inputs and outputs (pydantic models: the SDK turns them into the
tools' JSON schemas, and checks every result against its schema).

Field names are the socket API's camelCase on the wire (``sessionKey``, ``validUntil``),
snake_case in Python. Amounts and other integers that may pass 2^53 are decimal strings, as
on the socket, so no JSON reader loses precision.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """camelCase on the wire; extra fields a newer daemon sends are kept, not refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# -- inputs -----------------------------------------------------------------------------------


class AllowanceInput(Model):
    """One allowance of a grant request."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    token: str = Field(description="Token address (0x000...0: the chain's native coin).")
    amount: str = Field(
        pattern=r"^[0-9]{1,78}$",
        description="Base units per period, as a decimal string (10 USDC = '10000000').",
    )
    period: int = Field(ge=0, description="Seconds per window; 0 = one window for the validity.")
    max_per_payment: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,78}$",
        description="Most base units one payment may take (default: no limit beyond amount).",
    )


# -- outputs ----------------------------------------------------------------------------------


class DeviceStatus(Model):
    path: str | None
    connected: bool
    family: str | None
    model: str | None
    firmware: str | None
    shows_typed_data_fields: bool | None
    last_error: str | None = None


class HeldKeysStatus(Model):
    locked: bool
    held: int


class Status(Model):
    """What the daemon says of itself and its device."""

    version: str
    device: DeviceStatus
    account: str | None = Field(description="The person's master address on the device.")
    pending: int = Field(description="Requests waiting for the person on the device.")
    uptime: float
    held_keys: HeldKeysStatus


class GrantOverview(Model):
    """A stored grant as listings show it."""

    id: str
    status: str = Field(description="active, pending (not yet valid), expired or revoked.")
    account: str
    session_key: str
    chain_id: int | str  # integers beyond 2^53 - 1 arrive as decimal strings
    agent: str
    summary: str = Field(description="What the person approved on the device, in one line.")
    valid_after: int | str
    valid_until: int | str
    created_at: float
    revoked_at: float | None
    revoke_reason: str | None
    device: str | None


class GrantList(Model):
    grants: list[GrantOverview]
    next: str | None = Field(description="Pass as `before` for the next page; null at the end.")


class IssuedGrant(Model):
    """A grant the person approved on the device."""

    id: str
    status: str
    summary: str
    session_key: str
    custody: Literal["daemon", "agent"] = Field(
        description="daemon: signerd holds the session key and signs payments (pay_x402); "
        "agent: the caller's own key signs."
    )
    grant: dict[str, Any] = Field(
        description="The signed grant: id, typedData (EIP-712), signature, signer."
    )


class AllowanceBudget(Model):
    token: str
    period: int | str
    cap: str
    window_start: int | None
    window_end: int | None
    spent: str
    reserved: str
    remaining: str


class Budget(Model):
    grant_id: str
    at: int
    allowances: list[AllowanceBudget]


class Spend(Model):
    """One payment in signerd's ledger."""

    # The ledger's own snake_case names, as signerd_listSpends gives them.
    model_config = ConfigDict(alias_generator=None, extra="allow")

    seq: int
    key: str
    grant_id: str
    token: str
    amount: str
    payee: str
    status: str
    at: int


class Payment(Model):
    """The paid URL's answer and what it cost."""

    url: str
    http_status: int
    content_type: str | None
    body: str = Field(description="The response body (text), cut at 64 KiB.")
    truncated: bool
    spends: list[Spend] = Field(description="The payments signerd signed for this fetch.")
    payment_response: str | None = Field(
        description="The server's PAYMENT-RESPONSE header (x402 settlement), if any."
    )


class ErrorBody(Model):
    """A refusal: signerd's stable code and name (README, "Error codes") and its message."""

    code: int | None = Field(description="signerd's error code; null for an HTTP failure.")
    name: str
    message: str
    data: dict[str, Any] | None = None
