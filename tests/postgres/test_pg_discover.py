"""`veil discover --postgres`: sampling inside PostgreSQL with TABLESAMPLE, the same
classification as on DuckDB, never more rows than asked, and on a large table only a
part of its pages read."""
import time

import psycopg
import yaml

from pgshop import SOURCES, e2e, veil

EXTENSION = e2e.EXTENSION


def tag_file(path):
    return {(s["name"], c["name"]): c["tags"] for s in yaml.safe_load(path.read_text())["sources"] for c in s["columns"]}


def test_the_shop_classifies_as_on_duckdb(built, database, tmp_path):
    sources = [a for s in SOURCES for a in ("--source", s)]
    pg = tmp_path / "pg.yaml"
    out = veil("discover", "--dbt-target", built / "target", "--postgres", database, *sources, "-o", pg).stdout
    assert "main.customers.email: EmailAddress" in out, out
    duck = tmp_path / "duck.yaml"
    veil("discover", "--dbt-target", built / "target", "--duckdb", built / "target" / "shop.duckdb",
         "--extension", EXTENSION, *sources, "-o", duck)
    found = tag_file(pg)
    assert found == tag_file(duck)
    for column, entity in {"email": "EmailAddress", "phone": "PhoneNumber", "ssn": "UsSsn",
                           "credit_card": "CardNumber", "birth_date": "DateOfBirth"}.items():
        assert f"Discovered.Entity.{entity}" in found[("main.customers", column)], column


def blocks_read(url, table):
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute("SELECT coalesce(heap_blks_read, 0) + coalesce(heap_blks_hit, 0) FROM pg_statio_user_tables "
                          "WHERE relid = %s::regclass", [table]).fetchone()
    return row[0]


def test_sampling_reads_no_more_than_asked(cluster, tmp_path):
    server = cluster[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE sampling")
    url = f"{server}/sampling"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA lab")
        # Large and analysed: SYSTEM sampling of a few pages.
        con.execute("CREATE TABLE lab.big AS SELECT 'user' || i || '@example.com' AS email, i AS n, "
                    "repeat('x', 40) AS pad FROM generate_series(1, 300000) i")
        con.execute("ANALYZE lab.big")
        # Never analysed: read up to the limit.
        con.execute("CREATE TABLE lab.fresh AS SELECT '555-201-' || lpad(i::text, 4, '0') AS phone "
                    "FROM generate_series(1, 5000) i")
        # A view cannot be sampled by PostgreSQL: its first rows are read.
        con.execute("CREATE VIEW lab.v AS SELECT email FROM lab.big")
        # Types that are not text, NULL-only and very long values: no errors, nothing found.
        con.execute("CREATE TABLE lab.odd AS SELECT decode('00ff', 'hex') AS raw, true AS flag, "
                    "'{\"a\": 1}'::jsonb AS doc, NULL::text AS empty, repeat('a@b.co', 200) AS long_text, "
                    "i AS n FROM generate_series(1, 50) i")
        relpages = con.execute("SELECT relpages FROM pg_class WHERE oid = 'lab.big'::regclass").fetchone()[0]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"sources": [
        {"name": "lab.big", "schema": "lab", "columns": [{"name": "email", "type": "text"}, {"name": "n", "type": "integer"}]},
        {"name": "lab.fresh", "schema": "lab", "columns": [{"name": "phone", "type": "text"}]},
        {"name": "lab.v", "schema": "lab", "columns": [{"name": "email", "type": "text"}]},
        {"name": "lab.odd", "schema": "lab", "columns": [
            {"name": "raw", "type": "bytea"}, {"name": "flag", "type": "boolean"}, {"name": "doc", "type": "jsonb"},
            {"name": "empty", "type": "text"}, {"name": "long_text", "type": "text"}, {"name": "n", "type": "integer"}]},
    ]}))

    time.sleep(1)  # the set-up session's statistics reach the views when it ends
    before = blocks_read(url, "lab.big")
    out = veil("discover", "--catalog", catalog, "--postgres", url, "--sample", 100, "--format", "json").stdout
    report = yaml.safe_load(out)
    assert report["sources"] == 4 and report["most_rows"] <= 100, report
    found = {(f["source"], f["column"]): [e["entity"] for e in f["entities"]] for f in report["findings"]}
    assert found == {("lab.big", "email"): ["EmailAddress"], ("lab.fresh", "phone"): ["PhoneNumber"],
                     ("lab.v", "email"): ["EmailAddress"]}, found
    assert all(e["sampled"] <= 100 for f in report["findings"] for e in f["entities"])
    # SYSTEM read a small share of the table's pages (statistics are flushed when veil's
    # session ends; wait for them).
    deadline = time.time() + 10
    while blocks_read(url, "lab.big") == before and time.time() < deadline:
        time.sleep(0.5)
    read = blocks_read(url, "lab.big") - before
    assert 0 < read < relpages / 10, (read, relpages)

    # Nothing is written: discovery runs in a read-only transaction as any reader could.
    with psycopg.connect(url, autocommit=True) as con:
        assert con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'veil'").fetchone()[0] == 0
