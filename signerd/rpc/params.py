"""Typed parameters of each socket method, checked before the method runs.

Each method declares a frozen dataclass with a ``parse`` classmethod; the registry parses the
JSON-RPC ``params`` object into it, so a method body only ever sees well-typed values and
every refusal is a ValidationError naming its field (INVALID_PARAMS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, Self, cast, get_args

from signerd.errors import ValidationError
from signerd.grants import GrantRequest, parse_grant_request
from signerd.grants.schema import MAX_CHAIN_ID

GrantStatusFilter = Literal["active", "revoked", "expired", "pending"]
MAX_PAGE = 500
MAX_REASON = 200
GRANT_ID_LENGTH = 66


class Params(Protocol):
    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self: ...


class Fields:
    """Reads one params object: each accessor checks a type and names the field on refusal."""

    def __init__(self, params: Mapping[str, Any], allowed: frozenset[str]) -> None:
        for key in params:
            if key not in allowed:
                raise ValidationError(key, "unknown parameter")
        self._params = params

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._params.get(name, default)
        if not isinstance(value, bool):
            raise ValidationError(name, "must be true or false")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        value = self._params.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise ValidationError(name, f"must be an integer from {minimum} to {maximum}")
        return value

    def text(self, name: str, *, max_length: int) -> str | None:
        value = self._params.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > max_length:
            raise ValidationError(name, f"must be a string of at most {max_length} characters")
        return value

    def optional_grant_id(self, name: str) -> str | None:
        """The grant id under ``name``, or None when it is absent."""
        return None if self._params.get(name) is None else self.grant_id(name)

    def grant_id(self, name: str) -> str:
        """The grant id under ``name`` (required), in lower case."""
        value = self._params.get(name)
        if not isinstance(value, str) or len(value) != GRANT_ID_LENGTH or value[:2] != "0x":
            raise ValidationError(name, "must be a grant id (0x + 64 hex digits)")
        try:
            int(value[2:], 16)
        except ValueError:
            raise ValidationError(name, "must be a grant id (0x + 64 hex digits)") from None
        return value.lower()

    def choice(self, name: str, options: tuple[str, ...]) -> str | None:
        value = self._params.get(name)
        if value is not None and value not in options:
            raise ValidationError(name, "must be " + ", ".join(options[:-1]) + f" or {options[-1]}")
        return cast("str | None", value)

    def mapping(self, name: str, what: str) -> dict[str, Any]:
        value = self._params.get(name)
        if not isinstance(value, dict):
            raise ValidationError(name, f"must be {what}")
        return value

    def request_id(self, name: str) -> int | str:
        value = self._params.get(name)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError(name, "must be the id of a pending request on this connection")
        return value


@dataclass(frozen=True)
class NoParams:
    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        Fields(params, frozenset())
        return cls()


@dataclass(frozen=True)
class RequestGrantParams:
    """``signerd_requestGrant``: the grant request, and who holds the session key."""

    request: GrantRequest
    generate: bool  # the daemon creates the session key and hands it over once
    hold: bool = False  # ``custody: "daemon"``: the daemon creates the key and keeps it, sealed

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        rest = dict(params)
        generate = rest.pop("generate", False)
        if not isinstance(generate, bool):
            raise ValidationError("generate", "must be true or false")
        custody = rest.pop("custody", "agent")
        if custody not in ("agent", "daemon"):
            raise ValidationError("custody", 'must be "agent" or "daemon"')
        hold = custody == "daemon"
        if hold and generate:
            raise ValidationError("custody", 'give either generate or custody "daemon", not both')
        # Tokens named, and the summary's length checked, by the grant flow with the
        # daemon's [[tokens]] table: the built-in one would refuse what the daemon's fits.
        request = parse_grant_request(rest, now=now, generate=generate or hold, tokens=None)
        return cls(request, generate, hold)


@dataclass(frozen=True)
class ListGrantsParams:
    session_key: str | None
    status: GrantStatusFilter | None
    limit: int
    before: str | None

    ALLOWED: ClassVar = frozenset({"sessionKey", "status", "limit", "before"})

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, cls.ALLOWED)
        limit = fields.integer("limit", 50, 1, MAX_PAGE)
        status = cast(
            "GrantStatusFilter | None", fields.choice("status", get_args(GrantStatusFilter))
        )
        before = fields.optional_grant_id("before")
        session_key = params.get("sessionKey")
        if session_key is not None and not isinstance(session_key, str):
            raise ValidationError("sessionKey", "must be an address")
        return cls(session_key, status, limit, before)


@dataclass(frozen=True)
class GrantIdParams:
    id: str

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        grant_id = Fields(params, frozenset({"id"})).grant_id("id")
        return cls(grant_id)


@dataclass(frozen=True)
class RevokeGrantParams:
    id: str
    reason: str

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"id", "reason"}))
        grant_id = fields.grant_id("id")
        reason = fields.text("reason", max_length=MAX_REASON)
        return cls(grant_id, reason if reason is not None else "revoked by request")


@dataclass(frozen=True)
class VerifyGrantParams:
    grant: dict[str, Any]
    signer: str | None
    chain_id: int | None  # the chain the verifier accepts

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"grant", "signer", "chainId"}))
        document = fields.mapping("grant", "a signed grant object")
        signer = params.get("signer")
        if signer is not None and not isinstance(signer, str):
            raise ValidationError("signer", "must be an address")
        chain_id = None
        if params.get("chainId") is not None:
            chain_id = fields.integer("chainId", 0, 1, MAX_CHAIN_ID)
        return cls(document, signer, chain_id)


@dataclass(frozen=True)
class CancelParams:
    """``signerd_cancelRequest``: withdraw a pending request sent on the same connection."""

    id: int | str

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        return cls(Fields(params, frozenset({"id"})).request_id("id"))
