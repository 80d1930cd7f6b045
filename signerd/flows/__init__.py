"""Flows: each capability as one function from a checked request to its result."""
