"""PostgreSQL's plain-SQL masks (date truncation, rounding, partial reveal, e-mail)
as veil-host writes them (the `postgres` lines of the `warehouses__sql_masks`
snapshot of crates/veil-host/tests/warehouses.rs), run on a live server on the
shared vectors' values: each must give veil-core's output."""
import datetime
import hashlib
import json
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests/vectors/core.json").read_text())["cases"]
SNAPSHOT = (ROOT / "crates/veil-host/tests/snapshots/warehouses__sql_masks.snap").read_text().split("---\n", 2)[2]
LINES = [line.split("\t", 3) for line in SNAPSHOT.strip().splitlines() if line.startswith("postgres\t")]
# veil-core clamps a rounding that leaves BIGINT's range; PostgreSQL's cast back fails.
OVERFLOW = {9223372036854775807, -9223372036854775808}
TYPES = {"trunc_date": "date", "trunc_timestamp": "timestamp", "round_int": "bigint", "round_places": "numeric(12,5)"}
EPOCH = datetime.date(1970, 1, 1)


def param(case):
    args = case["args"]
    if case["fn"] in ("reveal_first", "reveal_last"):
        return f"{args[1]} {args[2]}"
    return str(args[1]) if len(args) > 1 else ""


def value(case):
    v = case["args"][0]
    if isinstance(v, dict):
        return v["repeat"] * v["times"]
    if case["fn"] == "trunc_date" and v is not None:
        return EPOCH + datetime.timedelta(days=v)
    if case["fn"] == "trunc_timestamp" and v is not None:
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=v)
    return v


def expected(case, got):
    if case["fn"] == "trunc_date" and got is not None:
        got = (got - EPOCH).days
    if case["fn"] == "trunc_timestamp" and got is not None:
        got = (got - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)
    if case["fn"] == "round_places" and got is not None:
        got = float(got)
    if "output_sha256" in case:
        return hashlib.sha256(got.encode()).hexdigest(), case["output_sha256"]
    return got, case.get("output")


def test_postgres_sql_masks_match_veil_core(cluster):
    server, _ = cluster
    ran = 0
    assert len(LINES) >= 20
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        for _, fn, p, expr in LINES:
            for case in (c for c in VECTORS if c["fn"] == fn and "error" not in c and param(c) == p):
                if fn == "round_int" and case["args"][0] in OVERFLOW:
                    continue
                ty = TYPES.get(fn, "text")
                got = con.execute(f"SELECT {expr} FROM (SELECT CAST(%s AS {ty}) AS v) t", [value(case)]).fetchone()[0]
                got, want = expected(case, got)
                assert got == want, f"{fn}({str(case['args'])[:60]}, {p}): {got!r} != {want!r}\n{expr}"
                ran += 1
    assert ran >= 30, ran
