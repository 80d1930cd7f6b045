"""Spending within grants: EIP-3009 payments signed with a grant's session key, and the
sealing of the session keys the daemon holds (``keystore``)."""
