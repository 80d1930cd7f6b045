"""The socket API: one module per method family, each registering its methods with ``API``."""

from signerd.api import control, grants, keys, payments, status  # noqa: F401  (importing registers their methods)
from signerd.api.registry import API, CallContext, Daemon

__all__ = ["API", "CallContext", "Daemon"]
