"""Shared fixtures: a DuckDB connection with veil loaded and a keyring holding the
shared vectors' key.

The extension is `dist/veil.duckdb_extension` (built by scripts/build-extension), or
the file named by VEIL_DUCKDB_EXTENSION. The keyring is written here and named by
VEIL_KEYRING before the extension is first used: veil reads it once per process.
"""
import hashlib
import json
import os
import pathlib
import tempfile

import duckdb
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "core.json").read_text())
EXTENSION = pathlib.Path(os.environ.get("VEIL_DUCKDB_EXTENSION", ROOT / "dist" / "veil.duckdb_extension"))

# A second key, so tests can tell keys apart.
OTHER_KEY = "ff" * 32

_ring_dir = tempfile.mkdtemp(prefix="veil-keyring-")
KEYRING = pathlib.Path(_ring_dir) / "keyring"
KEYRING.write_text(
    "# test keyring: written by tests/duckdb/conftest.py\n"
    f"{VECTORS['key_id']} = {VECTORS['key']}\n"
    f"other = {OTHER_KEY}\n"
)
os.environ["VEIL_KEYRING"] = str(KEYRING)


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    if not EXTENSION.exists():
        pytest.fail(f"{EXTENSION} is missing: run scripts/build-extension first")
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{EXTENSION}'")
    if threads is not None:
        con.execute(f"SET threads = {threads}")
    return con


@pytest.fixture(scope="session")
def con():
    c = connect()
    yield c
    c.close()


@pytest.fixture(scope="session")
def vectors():
    return VECTORS


def case_id(case):
    """A short test id for a shared-vector case."""
    args = [a if not isinstance(a, dict) else f"{a['repeat'][:1]}x{a['times']}" for a in case["args"]]
    return f"{case['fn']}{args}"[:80]


def check_case(con, sql, params, case, secret=None):
    """Run one shared-vector case: its output, or a DuckDB error naming its kind
    (and never `secret`)."""
    if "error" in case:
        with pytest.raises(duckdb.Error) as info:
            con.execute(sql, params).fetchall()
        assert f"[{case['error']}]" in str(info.value), str(info.value)
        assert secret is None or secret not in str(info.value)
        return
    (got,) = con.execute(sql, params).fetchone()
    if "output_sha256" in case:
        assert got is not None
        assert hashlib.sha256(got.encode()).hexdigest() == case["output_sha256"]
    else:
        assert got == case["output"]
