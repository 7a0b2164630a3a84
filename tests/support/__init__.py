"""Helpers shared by the tests: running servers and authenticated clients."""
