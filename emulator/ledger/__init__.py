"""The simulated Ledger Ethereum app behind Speculos' APDU TCP framing and REST API."""
