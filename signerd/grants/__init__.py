"""Session grants: the request format, EIP-712 rendering, the summary, and offline verification.

Pure functions only (no I/O, no device code): the daemon, the CLI and any third-party
verifier call the same code.
"""

from signerd.grants.request import AllowanceSpec, GrantRequest, parse_grant_request
from signerd.grants.schema import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    MAX_ALLOWANCES,
    MAX_LABEL,
    MAX_STRING,
    MAX_TARGETS,
    MAX_WINDOW,
    PRIMARY_TYPE,
    TYPES,
    ZERO_ADDRESS,
)
from signerd.grants.summary import KNOWN_TOKENS, NATIVE_COINS, format_units, summarize
from signerd.grants.typed_data import (
    agent_description,
    build_grant_typed_data,
    grant_digest,
    grant_id,
    recover_signer,
    signed_grant,
)
from signerd.grants.verify import Verification, verify_grant

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "KNOWN_TOKENS",
    "MAX_ALLOWANCES",
    "MAX_LABEL",
    "MAX_STRING",
    "MAX_TARGETS",
    "MAX_WINDOW",
    "NATIVE_COINS",
    "PRIMARY_TYPE",
    "TYPES",
    "ZERO_ADDRESS",
    "AllowanceSpec",
    "GrantRequest",
    "Verification",
    "agent_description",
    "build_grant_typed_data",
    "format_units",
    "grant_digest",
    "grant_id",
    "parse_grant_request",
    "recover_signer",
    "signed_grant",
    "summarize",
    "verify_grant",
]
