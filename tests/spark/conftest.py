"""Fixtures for tests/spark; the helpers live in sparkshop.py (a name of its own, so
this folder, tests/e2e and tests/postgres can run in one pytest session)."""
from sparkshop import applied, built, duck, loaded, server  # noqa: F401  (fixtures)
