"""A view an earlier apply made, that the current policy no longer makes (its source
renamed, dropped, or now disambiguated), is dropped by the next apply: it would keep
serving the old policy."""
import duckdb
import pytest

from conftest import as_reader, connect, engine_args, veil

OPEN = "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: s\ntype: data\nrules:\n  - {type: mask, columns: {tags: [PII.Secret]}, mask: {type: null}}\n"
ONE = "sources:\n  - {name: main.customers, schema: main, columns: [{name: id, type: integer}, {name: secret, type: text}]}\n"
TWO = ("sources:\n  - {name: main.customers, schema: main, columns: [{name: id, type: integer}, {name: secret, type: text, tags: [PII.Secret]}]}\n"
       "  - {name: staging.customers, schema: staging, columns: [{name: id, type: integer}, {name: secret, type: text, tags: [PII.Secret]}]}\n")


def test_views_the_policy_no_longer_makes_are_dropped(tmp_path):
    database = tmp_path / "s.duckdb"
    c = duckdb.connect(str(database))
    c.execute("CREATE SCHEMA staging")
    for schema in ("main", "staging"):
        c.execute(f"CREATE TABLE {schema}.customers (id INTEGER, secret VARCHAR)")
        c.execute(f"INSERT INTO {schema}.customers VALUES (1, 's3cret')")
    c.close()
    (tmp_path / "p.yaml").write_text(OPEN)
    (tmp_path / "u.yaml").write_text("users: [{name: kim}]\n")
    for step, catalog in enumerate((ONE, TWO)):
        (tmp_path / "c.yaml").write_text(catalog)
        args = ["--policies", tmp_path / "p.yaml", "--users", tmp_path / "u.yaml", "--catalog", tmp_path / "c.yaml"]
        veil("apply", *args, *engine_args(database))
    con = connect(database)
    views = sorted(r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'secure'").fetchall())
    assert views == ["main_customers", "staging_customers"], views
    with pytest.raises(duckdb.Error):
        as_reader(con, "kim", "SELECT * FROM secure.customers")
    assert as_reader(con, "kim", "SELECT secret FROM secure.main_customers") == [{"secret": None}]
    con.close()
    verified = veil("verify", *args, *engine_args(database), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
