"""Offline verification of a signed grant: a pure function from the document to valid/reason.

Checks, in order, so the reason names the first thing wrong:
1. ``malformed``: ``expected_signer``, when given, is an address; the document is exactly
   a schema version (``domain.version`` "2", or "1" for grants made before it) and every
   value passes that version's rules (checksummed addresses, ranges, lengths, no
   duplicates, window <= 366 days; in version 2 also the agent's form and token names);
2. ``summary_mismatch``: the summary is the one recomputed from the signed fields (in
   version 2 both ``domain.name`` and ``message.summary``);
3. ``bad_signature``: the signature is well formed and recovers, over the digest of the
   typed data, to the document's ``signer``; ``wrong_signer``: that signer is the expected
   one (``expected_signer``, else the message's ``account``);
4. ``wrong_chain``: the domain's chain is ``expected_chain_id``, when given (a grant for
   another chain names other tokens at the same addresses);
5. ``malformed``: the id is the digest;
6. ``not_yet_valid`` / ``expired``: validAfter <= now < validUntil.

Once the document parses, the outcome carries its ``terms`` (chain, account, session key,
allowances, payees, targets, window), so a payee sees what it is about to rely on.

The digest is computed from the validated, normalised values (ints, not the strings a JSON
tool may have written), so what is verified is exactly what the checks above saw.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from signerd.addresses import checksum_address
from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.agent import check_agent
from signerd.grants.digest import schema_digest
from signerd.grants.request import (
    check_payees,
    check_window,
    parse_addresses,
    parse_allowances,
)
from signerd.grants.schema import (
    DOMAIN_VERSION,
    MAX_CHAIN_ID,
    MAX_PAYEES,
    MAX_STRING,
    MAX_TARGETS,
    MAX_TIMESTAMP,
    MESSAGE_FIELDS,
    PRIMARY_TYPE,
    TYPES,
    UINT256_MAX,
)
from signerd.grants.summary import summarize
from signerd.grants.typed_data import grant_id, recover_signer
from signerd.grants.v1 import (
    DOMAIN_NAME_V1,
    DOMAIN_VERSION_V1,
    TYPES_V1,
    parse_message_v1,
    summarize_v1,
)

MALFORMED: Final = "malformed"
SUMMARY_MISMATCH: Final = "summary_mismatch"
BAD_SIGNATURE: Final = "bad_signature"
WRONG_SIGNER: Final = "wrong_signer"
WRONG_CHAIN: Final = "wrong_chain"
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
    # What the grant allows ("chainId" and the message's fields but its summary, agent and
    # nonce), once the document parses; not part of the verdict's identity.
    terms: dict[str, Any] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "detail": self.detail,
            "signer": self.signer,
            "grantId": self.grant_id,
            "terms": self.terms,
        }


def verify_grant(
    grant: Mapping[str, Any],
    *,
    expected_signer: str | None = None,
    expected_chain_id: int | None = None,
    now: int | None = None,
) -> Verification:
    """Verify a signed-grant document; never raises on bad input (``valid=False`` + reason).

    ``expected_signer`` (any hex case) is the master address the grant must be signed by;
    without it the signature must come from the message's ``account``. ``expected_chain_id``
    is the chain the verifier pays on (unchecked when None). ``now`` defaults to the
    current Unix time.
    """
    if expected_signer is not None and not (
        isinstance(expected_signer, str) and _HEX_ADDRESS.fullmatch(expected_signer)
    ):
        detail = f"expected_signer {expected_signer!r} is not an address"
        return Verification(False, MALFORMED, detail, None, None)
    if expected_chain_id is not None and (
        not isinstance(expected_chain_id, int) or expected_chain_id < 1
    ):
        detail = f"expected_chain_id {expected_chain_id!r} is not a chain id"
        return Verification(False, MALFORMED, detail, None, None)
    try:
        parsed = _parse_document(grant)
    except ValidationError as exc:
        return Verification(False, MALFORMED, str(exc), None, None)

    domain = {"name": parsed.name, "version": parsed.version, "chainId": parsed.chain_id}
    digest = schema_digest(parsed.version, domain, parsed.message)
    digest_id = grant_id(digest)
    message = parsed.message
    terms = _terms(parsed)

    def outcome(reason: str | None, detail: str | None, signer: str | None) -> Verification:
        return Verification(reason is None, reason, detail, signer, digest_id, terms)

    mismatch = _summary_mismatch(parsed)
    if mismatch is not None:
        return outcome(SUMMARY_MISMATCH, mismatch, None)

    try:
        recovered = recover_signer(digest, bytes.fromhex(parsed.signature[2:]))
    except ValidationError as exc:
        return outcome(BAD_SIGNATURE, str(exc), None)
    if recovered != parsed.signer:
        detail = f"signature recovers to {recovered}, not to the signer {parsed.signer}"
        return outcome(BAD_SIGNATURE, detail, recovered)

    expected = message["account"] if expected_signer is None else checksum_address(expected_signer)
    if recovered != expected:
        return outcome(WRONG_SIGNER, f"signed by {recovered}, expected {expected}", recovered)

    if expected_chain_id is not None and parsed.chain_id != expected_chain_id:
        detail = f"the grant is for chain {parsed.chain_id}, expected chain {expected_chain_id}"
        return outcome(WRONG_CHAIN, detail, recovered)

    if parsed.claimed_id.lower() != digest_id:
        return outcome(MALFORMED, f"id: is not the digest of typedData ({digest_id})", recovered)

    current = int(time.time()) if now is None else now
    if current < message["validAfter"]:
        detail = f"valid from {message['validAfter']}, now is {current}"
        return outcome(NOT_YET_VALID, detail, recovered)
    if current >= message["validUntil"]:
        detail = f"valid until {message['validUntil']}, now is {current}"
        return outcome(EXPIRED, detail, recovered)
    return outcome(None, None, recovered)


def _terms(parsed: _Parsed) -> dict[str, Any]:
    hidden = ("summary", "agent", "nonce")
    return {
        "chainId": parsed.chain_id,
        **{k: v for k, v in parsed.message.items() if k not in hidden},
    }


class _Parsed(NamedTuple):
    """A document's values, checked and normalised by its schema version's rules."""

    version: str
    types: dict[str, list[dict[str, str]]]
    name: str  # the domain's name
    chain_id: int
    message: dict[str, Any]
    signature: str
    signer: str
    claimed_id: str


def _summary_mismatch(parsed: _Parsed) -> str | None:
    """Why the signed summary is not the one the signed fields give, or None."""
    if parsed.version == DOMAIN_VERSION_V1:
        expected = summarize_v1(parsed.message, parsed.chain_id)
        shown = {"message.summary": parsed.message["summary"]}
    else:
        expected = summarize(parsed.message, parsed.chain_id)
        shown = {"domain.name": parsed.name, "message.summary": parsed.message["summary"]}
    for where, value in shown.items():
        if value != expected:
            return f"{where} does not match the signed fields; expected {expected!r}"
    return None


def _parse_document(grant: Any) -> _Parsed:
    """The document's values, checked by the rules of the version its domain names."""
    document = fields.obj(grant, "", required=_DOCUMENT_FIELDS)
    typed = fields.obj(document["typedData"], "typedData", required=_TYPED_DATA_FIELDS)
    domain = fields.obj(typed["domain"], "typedData.domain", required=_DOMAIN_FIELDS)
    version = domain["version"]
    if version == DOMAIN_VERSION_V1:
        types, max_chain_id = TYPES_V1, UINT256_MAX
        if domain["name"] != DOMAIN_NAME_V1:
            raise ValidationError("typedData.domain.name", f"must be {DOMAIN_NAME_V1!r}")
    elif version == DOMAIN_VERSION:
        types, max_chain_id = TYPES, MAX_CHAIN_ID
        fields.text(domain["name"], "typedData.domain.name", max_length=MAX_STRING)
    else:
        raise ValidationError(
            "typedData.domain.version", f"must be {DOMAIN_VERSION!r} (or {DOMAIN_VERSION_V1!r})"
        )
    if typed["types"] != types:
        raise ValidationError("typedData.types", f"are not the version {version} grant types")
    if typed["primaryType"] != PRIMARY_TYPE:
        raise ValidationError("typedData.primaryType", f"must be {PRIMARY_TYPE!r}")
    chain_id = fields.uint(
        domain["chainId"], "typedData.domain.chainId", minimum=1, maximum=max_chain_id
    )
    if version == DOMAIN_VERSION_V1:
        message = parse_message_v1(typed["message"], "typedData.message")
    else:
        message = _parse_message(typed["message"], "typedData.message")

    claimed_id = document["id"]
    if not isinstance(claimed_id, str):
        raise ValidationError("id", "must be a 0x-hex string")
    signature = document["signature"]
    if not isinstance(signature, str) or not _HEX_SIGNATURE.fullmatch(signature):
        raise ValidationError("signature", "must be 0x followed by 130 hexadecimal digits")
    signer = fields.address(document["signer"], "signer")
    return _Parsed(version, types, domain["name"], chain_id, message, signature, signer, claimed_id)


def _parse_message(raw_message: Any, where: str) -> dict[str, Any]:
    """A version 2 message checked by the request's rules, as ints and checksummed addresses."""
    raw = fields.obj(raw_message, where, required=MESSAGE_FIELDS)
    at = _paths(where)
    allowances = _allowances(raw["allowances"], at["allowances"])
    payees = parse_addresses(raw["payees"], at["payees"], max_items=MAX_PAYEES)
    if payees and not allowances:  # check_payees' rule, without its specs
        check_payees((), payees, at["payees"])
    agent = fields.text(raw["agent"], at["agent"], max_length=MAX_STRING)
    message: dict[str, Any] = {
        "summary": fields.text(raw["summary"], at["summary"], max_length=MAX_STRING),
        "agent": check_agent(agent, at["agent"]),
        "account": fields.address(raw["account"], at["account"]),
        "sessionKey": fields.address(raw["sessionKey"], at["sessionKey"]),
        "allowances": allowances,
        "payees": list(payees),
        "targets": list(parse_addresses(raw["targets"], at["targets"], max_items=MAX_TARGETS)),
        "validAfter": fields.uint(raw["validAfter"], at["validAfter"], maximum=MAX_TIMESTAMP),
        "validUntil": fields.uint(raw["validUntil"], at["validUntil"], maximum=MAX_TIMESTAMP),
        "nonce": fields.uint(raw["nonce"], at["nonce"], maximum=UINT256_MAX),
    }
    check_window(message["validAfter"], message["validUntil"], at["validUntil"])
    return message


@functools.cache
def _paths(where: str) -> dict[str, str]:
    """The path of each message field (one ``where`` in practice: built once, not per grant)."""
    return {key: fields.path(where, key) for key in MESSAGE_FIELDS}


# Allowances that passed, keyed by their exact JSON values (types included, so True is not 1
# nor 1.0), as plain dicts. One person's grants repeat the same few allowances, and checking
# them (token names, ranges, duplicates) was the largest share of checking a message.
_CHECKED_ALLOWANCES: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = {}
_CHECKED_ALLOWANCES_MAX: Final = 1024


def _allowances(raw: Any, where: str) -> list[dict[str, Any]]:
    """``parse_allowances`` of a signed grant, as Allowance struct values (fresh dicts)."""
    key = _exact_key(raw)
    try:
        checked = None if key is None else _CHECKED_ALLOWANCES.get(key)
    except TypeError:  # a value that cannot be a key (an array, an object): no caching
        key = checked = None
    if checked is None:
        checked = tuple(item.to_json() for item in parse_allowances(raw, where, requested=False))
        if key is not None:
            if len(_CHECKED_ALLOWANCES) >= _CHECKED_ALLOWANCES_MAX:
                _CHECKED_ALLOWANCES.clear()
            _CHECKED_ALLOWANCES[key] = checked
    # Copies: the message is handed out (terms), and a caller may change what it gets.
    return [dict(item) for item in checked]


def _exact_key(raw: Any) -> tuple[Any, ...] | None:
    """A list of objects as a key that tells apart what JSON tells apart (each value with its
    exact type: True is not 1 nor 1.0, "1" is not 1), or None for anything else."""
    if type(raw) is not list:
        return None
    for item in raw:
        if type(item) is not dict:
            return None
    return tuple([(tuple(item.items()), tuple(map(type, item.values()))) for item in raw])
