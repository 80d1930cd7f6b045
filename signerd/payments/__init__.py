"""Spending within grants: session keys the daemon holds (``keystore``, ``held``)."""
