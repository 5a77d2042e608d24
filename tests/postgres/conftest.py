"""Fixtures for tests/postgres; the helpers live in pgshop.py (a name of its own, so
this folder and tests/e2e can run in one pytest session)."""
from pgshop import applied, built, cluster, database, duck  # noqa: F401  (fixtures)
