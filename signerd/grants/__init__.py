"""Session grants: the request format, EIP-712 rendering, the summary, and offline verification.

Pure functions only (no I/O, no device code): the daemon, the CLI and any third-party
verifier call the same code. schema.py documents the grant format and why the summary sits
where it does; v1.py keeps grants of the first schema version verifying.
"""

from signerd.grants.agent import agent_description
from signerd.grants.formatting import format_units
from signerd.grants.request import AllowanceSpec, GrantRequest, parse_grant_request
from signerd.grants.schema import (
    CHAIN_NAMES,
    DOMAIN_VERSION,
    MAX_ALLOWANCES,
    MAX_CHAIN_ID,
    MAX_LABEL,
    MAX_PAYEES,
    MAX_STRING,
    MAX_TARGETS,
    MAX_WINDOW,
    PRIMARY_TYPE,
    TYPES,
    ZERO_ADDRESS,
)
from signerd.grants.summary import summarize
from signerd.grants.tokens import BUILTIN_TOKENS, TokenInfo, TokenTable, token_table
from signerd.grants.typed_data import (
    build_grant_typed_data,
    grant_digest,
    grant_id,
    recover_signer,
    signed_grant,
)
from signerd.grants.verify import Verification, verify_grant

__all__ = [
    "BUILTIN_TOKENS",
    "CHAIN_NAMES",
    "DOMAIN_VERSION",
    "MAX_ALLOWANCES",
    "MAX_CHAIN_ID",
    "MAX_LABEL",
    "MAX_PAYEES",
    "MAX_STRING",
    "MAX_TARGETS",
    "MAX_WINDOW",
    "PRIMARY_TYPE",
    "TYPES",
    "ZERO_ADDRESS",
    "AllowanceSpec",
    "GrantRequest",
    "TokenInfo",
    "TokenTable",
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
    "token_table",
    "verify_grant",
]
