"""Typed parameters of the ERC-7715 ``wallet_*`` methods. They take positional params (an
array), which the protocol hands over under ``POSITIONAL``; a named object is also taken
where the method has one argument object."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from signerd.errors import ValidationError
from signerd.onchain.delegation import MAX_PERMISSION_CONTEXT
from signerd.onchain.erc7715 import PermissionRequest, parse_requests
from signerd.rpc.protocol import POSITIONAL


def _positional(params: Mapping[str, Any]) -> list[Any]:
    if set(params) - {POSITIONAL}:
        raise ValidationError(sorted(set(params) - {POSITIONAL})[0], "unknown parameter")
    value = params.get(POSITIONAL, [])
    if not isinstance(value, list):
        raise ValidationError("params", "must be an array")
    return value


_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


@dataclass(frozen=True)
class NoPositionalParams:
    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        if _positional(params):
            raise ValidationError("params", "takes none")
        return cls()


@dataclass(frozen=True)
class RequestPermissionsParams:
    requests: list[PermissionRequest]

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        return cls(parse_requests(_positional(params), now=int(time.time())))


@dataclass(frozen=True)
class RevokePermissionParams:
    context: bytes

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        named: Any = dict(params) if POSITIONAL not in params else None
        if named is None:
            items = _positional(params)
            if len(items) != 1:
                raise ValidationError("params", "must be [{permissionContext}]")
            named = items[0]
        if not isinstance(named, Mapping) or set(named) != {"permissionContext"}:
            raise ValidationError("params", "must be {permissionContext}")
        value = named["permissionContext"]
        if not isinstance(value, str) or not _HEX.fullmatch(value):
            raise ValidationError("permissionContext", "must be 0x-prefixed hex, whole bytes")
        if len(value) > 2 + 2 * MAX_PERMISSION_CONTEXT:
            raise ValidationError(
                "permissionContext", f"is longer than {MAX_PERMISSION_CONTEXT} bytes"
            )
        return cls(bytes.fromhex(value[2:]))
