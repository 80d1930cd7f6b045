"""Spending within grants, pure: sealing held session keys (``keystore``)."""
