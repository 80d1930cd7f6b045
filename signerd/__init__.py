"""signerd: a local daemon that makes a hardware wallet the root of trust for agents' session keys."""

__version__ = "0.1.0"
