"""signerd: a local daemon making a hardware wallet the root of trust for agents' session keys."""

__version__ = "0.1.0"
