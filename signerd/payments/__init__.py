"""Payments within a grant: EIP-3009 authorizations signed with the grant's session key."""
