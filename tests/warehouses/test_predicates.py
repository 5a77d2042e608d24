"""The literal and identifier matrix of `where:` predicates (row rules, conditional
masks): crates/veil-host/tests/predicates.rs prints each hostile string (quotes,
backslashes, `%`/`_`, unicode, newlines) and a hostile column name in every target's
dialect. DuckDB's form runs as written; each warehouse's form is parsed by sqlglot in
that dialect and run in DuckDB. Every form must keep exactly the rows DuckDB's keeps,
and an equality must keep exactly the row holding its value (tests/postgres runs the
PostgreSQL forms on a real server)."""
import json

import duckdb
import pytest
import sqlglot

from conftest import snapshot

LINES = [json.loads(line) for line in snapshot("predicates__predicate_matrix").strip().splitlines()]
HEADER, CASES = LINES[0], LINES[1:]
VALUES, COLUMN = HEADER["values"], HEADER["column"]


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture(scope="module")
def table():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (id INTEGER, {quoted(COLUMN)} VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [[i, v] for i, v in enumerate(VALUES)] + [[len(VALUES), None]])
    return con


def kept(con, predicate):
    return sorted(r[0] for r in con.execute(f"SELECT id FROM t WHERE {predicate}").fetchall())


def reference(table):
    return {c["case"]: kept(table, c["sql"]) for c in CASES if c["target"] == "duckdb"}


def test_duckdb_equalities_keep_exactly_their_value(table):
    ref = reference(table)
    for i, _ in enumerate(VALUES):
        assert ref[f"eq{i}"] == [i], (VALUES[i], ref[f"eq{i}"])
    assert ref["in"] == [VALUES.index("it's"), VALUES.index("%")]
    assert ref["like0"] == sorted(i for i, v in enumerate(VALUES) if "'" in v)
    assert ref["ilike"] == [VALUES.index("it's")]


@pytest.mark.parametrize("target", ["snowflake", "databricks", "bigquery", "singlestore"])
def test_every_dialect_keeps_the_rows_duckdb_keeps(table, target):
    ref = reference(table)
    checked = 0
    for c in (c for c in CASES if c["target"] == target):
        tree = sqlglot.parse_one(c["sql"], read=target)
        # Policies name columns as function arguments (Snowflake, Databricks): the
        # argument must be the column itself, under the dialect's own reading.
        column = sqlglot.parse_one(c["column"], read=target)
        assert column.name == COLUMN, (target, c["column"], column.name)
        duck = tree.sql(dialect="duckdb")
        assert kept(table, duck) == ref[c["case"]], (target, c["case"], c["sql"], duck)
        checked += 1
    assert checked == len(ref)
