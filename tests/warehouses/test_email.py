"""The e-mail mask as Snowflake, Databricks and BigQuery write it (the
`email_masks` snapshot of crates/veil-host/tests/warehouses.rs), translated to
DuckDB by sqlglot and run on the shared vectors plus edge cases: each must give
veil-core's outputs. Spark's `substring_index` has no DuckDB twin, so it is
defined here from Spark's documentation (count -1: the text after the last
delimiter, the whole text without one)."""
import json

import duckdb
import pytest
import sqlglot

from conftest import ROOT, snapshot

VECTORS = json.loads((ROOT / "tests/vectors/core.json").read_text())["cases"]
CASES = [(c["args"][0], c["output"]) for c in VECTORS if c["fn"] == "mask_email"] + [
    ("@", "XXXXX"),
    ("x@", "XXXXX"),
    ("a@a", "XXXXX@a"),
    ("ü@ß.de", "XXXXX@ß.de"),
    ("@@", "XXXXX"),
    ("a\n@b\nc", "XXXXX@b\nc"),
]
EXPRESSIONS = dict(line.split("\t", 1) for line in snapshot("warehouses__email_masks").strip().splitlines())


@pytest.mark.parametrize("dialect", ["snowflake", "databricks", "bigquery"])
def test_email_mask_matches_veil_core(dialect):
    query = sqlglot.transpile(f"SELECT i, {EXPRESSIONS[dialect]} AS m FROM t ORDER BY i", read=dialect, write="duckdb")[0]
    con = duckdb.connect()
    con.execute("CREATE MACRO substring_index(s, d, n) AS CASE WHEN n = -1 THEN string_split(s, d)[-1] ELSE error('count') END")
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, v) for i, (v, _) in enumerate(CASES)])
    got = [m for _, m in con.execute(query).fetchall()]
    assert len(CASES) >= 11 and any(v is None for v, _ in CASES)
    assert got == [want for _, want in CASES]
