"""Fixtures for the web side live in tests/conftest.py (shared with the integration tests)."""
