"""veil_hash against an independent implementation: HKDF-SHA-256 (RFC 5869) then
HMAC-SHA-256 with Python's own hmac/hashlib, following the derivation documented at
the top of crates/veil-core/src/key.rs."""
import hashlib
import hmac
import struct

import pytest

from conftest import OTHER_KEY, VECTORS


def _prefixed(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


def scope_bytes(scope: str, reader: str | None = None) -> bytes:
    if scope.startswith("project:"):
        kind, ident = b"project", scope[len("project:"):]
    elif scope.startswith("source:"):
        kind, ident = b"source", scope[len("source:"):]
    else:
        kind, ident = b"source", scope
    out = kind + b"\0" + _prefixed(ident.encode())
    if reader is not None:
        out += b"\0" + _prefixed(reader.encode())
    return out


def derive(master_hex: str, purpose: str, scope: bytes) -> bytes:
    prk = hmac.new(b"veil/v1", bytes.fromhex(master_hex), hashlib.sha256).digest()
    info = purpose.encode() + b"\0" + scope
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()  # L = 32: one block


def python_hash(master_hex, value: str, scope: str, reader=None) -> str:
    return hmac.new(derive(master_hex, "hash", scope_bytes(scope, reader)), value.encode(), hashlib.sha256).hexdigest()


INPUTS = [
    ("alice@example.com", "shop.customers", None),
    ("", "shop.customers", None),
    ("Zoë Ünal 東京", "source:shop.customers", None),
    ("alice@example.com", "project:growth", None),
    ("alice@example.com", "shop.customers", "bob"),
    ("x" * 1000, "a", "b"),
]


@pytest.mark.parametrize("value,scope,reader", INPUTS)
def test_veil_hash_equals_python_hkdf_hmac(con, value, scope, reader):
    if reader is None:
        (got,) = con.execute("SELECT veil_hash(?, 'k1', ?)", [value, scope]).fetchone()
    else:
        (got,) = con.execute("SELECT veil_hash(?, 'k1', ?, ?)", [value, scope, reader]).fetchone()
    assert got == python_hash(VECTORS["key"], value, scope, reader)


def test_key_id_selects_the_key(con):
    (got,) = con.execute("SELECT veil_hash('alice', 'other', 'shop.customers')").fetchone()
    assert got == python_hash(OTHER_KEY, "alice", "shop.customers")
    assert got != python_hash(VECTORS["key"], "alice", "shop.customers")


def test_many_rows_match_python(con):
    rows = con.execute(
        "SELECT 'user' || i::VARCHAR AS v, veil_hash('user' || i::VARCHAR, 'k1', 'shop.t') FROM range(5000) r(i)"
    ).fetchall()
    for value, got in rows:
        assert got == python_hash(VECTORS["key"], value, "shop.t")


def test_rows_hashed_in_pairs_match_python_across_lengths_and_nulls(con):
    # veil_hash pairs up a chunk's non-NULL rows; lengths 0..149 cross every SHA-256
    # padding boundary, so pairs mix one- to three-block messages, NULLs sit between
    # pair members and the row count is odd (one row left over per chunk).
    rows = con.execute(
        "SELECT v, veil_hash(v, 'k1', 'shop.t') FROM (SELECT CASE WHEN i % 7 = 3 THEN NULL "
        "ELSE repeat('é', (i * 13) % 75) || repeat('x', i % 2) END v FROM range(4099) r(i))"
    ).fetchall()
    assert len(rows) == 4099
    for value, got in rows:
        assert got == (None if value is None else python_hash(VECTORS["key"], value, "shop.t"))
