"""The PostgreSQL forms of the `where:` literal and identifier matrix
(crates/veil-host/tests/predicates.rs) on a live server: each must keep exactly the
rows DuckDB's form keeps in DuckDB (and an equality, exactly the row holding its value)."""
import json
from pathlib import Path

import duckdb
import psycopg

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = (ROOT / "crates/veil-host/tests/snapshots/predicates__predicate_matrix.snap").read_text().split("---\n", 2)[2]
LINES = [json.loads(line) for line in SNAPSHOT.strip().splitlines()]
HEADER, CASES = LINES[0], LINES[1:]
VALUES, COLUMN = HEADER["values"], HEADER["column"]
ROWS = [[i, v] for i, v in enumerate(VALUES)] + [[len(VALUES), None]]


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


def test_postgres_keeps_the_rows_duckdb_keeps(cluster):
    server, _ = cluster
    duck = duckdb.connect()
    duck.execute(f"CREATE TABLE t (id INTEGER, {quoted(COLUMN)} VARCHAR)")
    duck.executemany("INSERT INTO t VALUES (?, ?)", ROWS)
    ref = {c["case"]: sorted(r[0] for r in duck.execute(f"SELECT id FROM t WHERE {c['sql']}").fetchall())
           for c in CASES if c["target"] == "duckdb"}
    with psycopg.connect(f"{server}/postgres", autocommit=True) as pg:
        pg.execute(f"CREATE TEMP TABLE t (id integer, {quoted(COLUMN)} text)")
        with pg.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s)", ROWS)
        checked = 0
        for c in (c for c in CASES if c["target"] == "postgres"):
            # psycopg treats % as a placeholder only with parameters; none are passed.
            got = sorted(r[0] for r in pg.execute(f"SELECT id FROM t WHERE {c['sql']}").fetchall())
            assert got == ref[c["case"]], (c["case"], c["sql"], got, ref[c["case"]])
            checked += 1
    assert checked == len(ref)
    for i, _ in enumerate(VALUES):
        assert ref[f"eq{i}"] == [i]
