"""Rendering a grant request as EIP-712 typed data, recovering its signer, and packaging the
signed grant.

The digest (digest.py, re-exported here) doubles as the grant's id ("0x" + hex). Recovery
calls libsecp256k1 through coincurve directly, with eth-keys' refusals kept word for word:
eth-keys' Signature and PublicKey wrappers validated and converted on every call, and cost
about a fifth of verifying a grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import coincurve

from signerd.addresses import checksum_address
from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.agent import check_agent
from signerd.grants.digest import grant_digest, keccak
from signerd.grants.request import GrantRequest
from signerd.grants.schema import DOMAIN_VERSION, MAX_STRING, PRIMARY_TYPE, TYPES, UINT256_MAX

__all__ = [
    "SIGNATURE_LENGTH",
    "build_grant_typed_data",
    "grant_digest",
    "grant_id",
    "keccak",
    "normalize_signature",
    "recover_signer",
    "signed_grant",
]

SIGNATURE_LENGTH: Final = 65
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def build_grant_typed_data(
    req: GrantRequest, *, account: str, agent: str, nonce: int
) -> dict[str, Any]:
    """The full version 2 EIP-712 document for ``req`` signed by ``account``.

    ``agent`` is ``agent_description``'s; the summary goes into the domain's name and the
    message's first field (schema.py says why).
    """
    if req.session_key is None:
        raise ValidationError("sessionKey", "not generated yet")
    # parse_grant_request refuses these already; a request put together by hand stops here.
    req.check_summary()
    summary = req.summary()
    message: dict[str, Any] = {
        "summary": summary,
        "agent": check_agent(fields.text(agent, "agent", max_length=MAX_STRING), "agent"),
        "account": fields.address(account, "account"),
        "sessionKey": req.session_key,
        "allowances": [allowance.to_json() for allowance in req.allowances],
        "payees": list(req.payees),
        "targets": list(req.targets),
        "validAfter": req.valid_after,
        "validUntil": req.valid_until,
        "nonce": fields.uint(nonce, "nonce", maximum=UINT256_MAX),
    }
    return {
        "types": {name: [dict(field) for field in members] for name, members in TYPES.items()},
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": summary, "version": DOMAIN_VERSION, "chainId": req.chain_id},
        "message": message,
    }


def grant_id(digest: bytes) -> str:
    """The grant's id: its digest as lowercase 0x-hex."""
    return "0x" + digest.hex()


def normalize_signature(signature: bytes) -> bytes:
    """65 bytes r || s || v with v = 27/28; accepts v = 0/1. Raises ValidationError("signature")."""
    if len(signature) != SIGNATURE_LENGTH:
        raise ValidationError(
            "signature", f"must be {SIGNATURE_LENGTH} bytes, not {len(signature)}"
        )
    v = signature[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise ValidationError("signature", f"v must be 27/28 (or 0/1), not {signature[64]}")
    s = int.from_bytes(signature[32:64], "big")
    # Only low-s signatures (EIP-2) are accepted, so each grant has one signature encoding.
    if s > _SECP256K1_N // 2:
        raise ValidationError("signature", "s is in the upper half of the curve order (not EIP-2)")
    return signature[:64] + bytes([v])


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address whose key made ``signature`` over ``digest``."""
    canonical = normalize_signature(signature)
    r = int.from_bytes(canonical[:32], "big")
    if r >= _SECP256K1_N:
        # eth-keys' words, which refused such an r before libsecp256k1 was called directly.
        detail = f"Value {r} is not less than or equal to {_SECP256K1_N - 1}"
        raise ValidationError("signature", f"does not recover to any key ({detail})")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            canonical[:64] + bytes([canonical[64] - 27]), digest, hasher=None
        )
    except Exception as exc:  # coincurve raises ValueError or its own errors, as eth-keys saw
        raise ValidationError("signature", f"does not recover to any key ({exc})") from exc
    return address_of(public_key)


def address_of(public_key: coincurve.PublicKey) -> str:
    """The checksummed Ethereum address of a secp256k1 public key."""
    return checksum_address("0x" + keccak(public_key.format(compressed=False)[1:])[12:].hex())


def signed_grant(
    typed_data: Mapping[str, Any], signature: bytes, signer: str, digest: bytes | None = None
) -> dict[str, Any]:
    """The signed-grant document handed to the agent and stored.

    Checks that the signature recovers to ``signer`` over the typed data, so a device that
    signed the wrong thing (or with the wrong key) is caught before the grant leaves.
    ``digest``: ``grant_digest(typed_data)`` if the caller has it already.
    """
    signer = fields.address(signer, "signer")
    if digest is None:
        digest = grant_digest(typed_data)
    canonical = normalize_signature(signature)
    recovered = recover_signer(digest, canonical)
    if recovered != signer:
        raise ValidationError("signature", f"recovers to {recovered}, not to signer {signer}")
    return {
        "id": grant_id(digest),
        "typedData": dict(typed_data),
        "signature": "0x" + canonical.hex(),
        "signer": signer,
    }
