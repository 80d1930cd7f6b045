"""Offline verification of a signed grant: a pure function from the document to valid/reason.

Checks, in order, so the reason names the first thing wrong:
1. ``malformed``: ``expected_signer``, when given, is an address; the document is exactly
   the schema and every value passes the request rules (checksummed addresses, ranges,
   lengths, no duplicates, window <= 366 days);
2. ``summary_mismatch``: the summary is the one recomputed from the signed fields;
3. ``bad_signature``: the signature is well formed and recovers, over the digest of the
   typed data, to the document's ``signer``; ``wrong_signer``: that signer is the expected
   one (``expected_signer``, else the message's ``account``);
4. ``malformed``: the id is the digest;
5. ``not_yet_valid`` / ``expired``: validAfter <= now < validUntil.

The digest is computed from the validated, normalised values (ints, not the strings a JSON
tool may have written), so what is verified is exactly what the checks above saw.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from eth_utils.address import to_checksum_address

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.request import check_window, parse_allowances, parse_targets
from signerd.grants.schema import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    MAX_STRING,
    MAX_TIMESTAMP,
    MESSAGE_FIELDS,
    PRIMARY_TYPE,
    TYPES,
    UINT256_MAX,
)
from signerd.grants.summary import summarize
from signerd.grants.typed_data import grant_digest, grant_id, recover_signer

MALFORMED: Final = "malformed"
SUMMARY_MISMATCH: Final = "summary_mismatch"
BAD_SIGNATURE: Final = "bad_signature"
WRONG_SIGNER: Final = "wrong_signer"
NOT_YET_VALID: Final = "not_yet_valid"
EXPIRED: Final = "expired"

_DOCUMENT_FIELDS: Final = ("id", "typedData", "signature", "signer")
_TYPED_DATA_FIELDS: Final = ("types", "primaryType", "domain", "message")
_DOMAIN_FIELDS: Final = ("name", "version", "chainId")
_HEX_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class Verification:
    """The outcome: valid, or the first reason (a code above) with a readable detail."""

    valid: bool
    reason: str | None
    detail: str | None
    signer: str | None  # the address the signature recovers to, once known
    grant_id: str | None  # "0x" + digest of the typed data, once computable

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "detail": self.detail,
            "signer": self.signer,
            "grantId": self.grant_id,
        }


def verify_grant(
    grant: Mapping[str, Any], *, expected_signer: str | None = None, now: int | None = None
) -> Verification:
    """Verify a signed-grant document; never raises on bad input (``valid=False`` + reason).

    ``expected_signer`` (any hex case) is the master address the grant must be signed by;
    without it the signature must come from the message's ``account``. ``now`` defaults to
    the current Unix time.
    """
    if expected_signer is not None and not (
        isinstance(expected_signer, str) and _HEX_ADDRESS.fullmatch(expected_signer)
    ):
        detail = f"expected_signer {expected_signer!r} is not an address"
        return Verification(False, MALFORMED, detail, None, None)
    try:
        chain_id, message, signature, signer, claimed_id = _parse_document(grant)
    except ValidationError as exc:
        return Verification(False, MALFORMED, str(exc), None, None)

    canonical = {
        "types": TYPES,
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id},
        "message": message,
    }
    digest = grant_digest(canonical)
    digest_id = grant_id(digest)

    expected_summary = summarize(message, chain_id)
    if message["summary"] != expected_summary:
        detail = f"summary does not match the signed fields; expected {expected_summary!r}"
        return Verification(False, SUMMARY_MISMATCH, detail, None, digest_id)

    try:
        recovered = recover_signer(digest, bytes.fromhex(signature[2:]))
    except ValidationError as exc:
        return Verification(False, BAD_SIGNATURE, str(exc), None, digest_id)
    if recovered != signer:
        detail = f"signature recovers to {recovered}, not to the signer {signer}"
        return Verification(False, BAD_SIGNATURE, detail, recovered, digest_id)

    expected = (
        message["account"] if expected_signer is None else to_checksum_address(expected_signer)
    )
    if recovered != expected:
        detail = f"signed by {recovered}, expected {expected}"
        return Verification(False, WRONG_SIGNER, detail, recovered, digest_id)

    if claimed_id.lower() != digest_id:
        detail = f"id: is not the digest of typedData ({digest_id})"
        return Verification(False, MALFORMED, detail, recovered, digest_id)

    current = int(time.time()) if now is None else now
    if current < message["validAfter"]:
        detail = f"valid from {message['validAfter']}, now is {current}"
        return Verification(False, NOT_YET_VALID, detail, recovered, digest_id)
    if current >= message["validUntil"]:
        detail = f"valid until {message['validUntil']}, now is {current}"
        return Verification(False, EXPIRED, detail, recovered, digest_id)
    return Verification(True, None, None, recovered, digest_id)


def _parse_document(grant: Any) -> tuple[int, dict[str, Any], str, str, str]:
    """Chain id, normalised message, signature hex, signer and claimed id of a grant document."""
    document = fields.obj(grant, "", required=_DOCUMENT_FIELDS)
    typed = fields.obj(document["typedData"], "typedData", required=_TYPED_DATA_FIELDS)
    if typed["types"] != TYPES:
        raise ValidationError("typedData.types", "are not the signerd SessionGrant types")
    if typed["primaryType"] != PRIMARY_TYPE:
        raise ValidationError("typedData.primaryType", f"must be {PRIMARY_TYPE!r}")

    domain = fields.obj(typed["domain"], "typedData.domain", required=_DOMAIN_FIELDS)
    if domain["name"] != DOMAIN_NAME:
        raise ValidationError("typedData.domain.name", f"must be {DOMAIN_NAME!r}")
    if domain["version"] != DOMAIN_VERSION:
        raise ValidationError("typedData.domain.version", f"must be {DOMAIN_VERSION!r}")
    chain_id = fields.uint(
        domain["chainId"], "typedData.domain.chainId", minimum=1, maximum=UINT256_MAX
    )

    raw = fields.obj(typed["message"], "typedData.message", required=MESSAGE_FIELDS)

    def at(key: str) -> str:
        return fields.path("typedData.message", key)

    message: dict[str, Any] = {
        "account": fields.address(raw["account"], at("account")),
        "sessionKey": fields.address(raw["sessionKey"], at("sessionKey")),
        "agent": fields.text(raw["agent"], at("agent"), max_length=MAX_STRING),
        "summary": fields.text(raw["summary"], at("summary"), max_length=MAX_STRING),
        "allowances": [
            allowance.to_json()
            for allowance in parse_allowances(raw["allowances"], at("allowances"))
        ],
        "targets": list(parse_targets(raw["targets"], at("targets"))),
        "validAfter": fields.uint(raw["validAfter"], at("validAfter"), maximum=MAX_TIMESTAMP),
        "validUntil": fields.uint(raw["validUntil"], at("validUntil"), maximum=MAX_TIMESTAMP),
        "nonce": fields.uint(raw["nonce"], at("nonce"), maximum=UINT256_MAX),
    }
    check_window(message["validAfter"], message["validUntil"], at("validUntil"))

    claimed_id = document["id"]
    if not isinstance(claimed_id, str):
        raise ValidationError("id", "must be a 0x-hex string")
    signature = document["signature"]
    if not isinstance(signature, str) or not _HEX_SIGNATURE.fullmatch(signature):
        raise ValidationError("signature", "must be 0x followed by 130 hexadecimal digits")
    signer = fields.address(document["signer"], "signer")
    return chain_id, message, signature, signer, claimed_id
