"""The socket API: one module per method family, each registering its methods with ``API``."""

# Importing a family registers its methods.
from signerd.api import (  # noqa: F401
    control,
    delegations,
    erc7715,
    grants,
    keys,
    payments,
    status,
)
from signerd.api.registry import API, CallContext, Daemon

__all__ = ["API", "CallContext", "Daemon"]
