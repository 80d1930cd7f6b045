"""The agent-side API: ``from signerd.client import Client``."""

from signerd.rpc.client import Client, ClientError

__all__ = ["Client", "ClientError"]
