"""The agent-side API: ``from signerd.client import Client``; errors in ``signerd.errors``."""

from signerd.errors import SignerdError
from signerd.rpc.client import Client

__all__ = ["Client", "SignerdError"]
