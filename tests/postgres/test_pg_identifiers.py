"""Identifiers round-trip on PostgreSQL: the hostile relation and column names of
tests/e2e/test_identifiers.py (dots, quotes, backticks, backslashes, case, spaces,
non-ASCII, reserved words; seeded random ones too) are created in a database of the
session's cluster, with decoys where a name split at its dots would land; after
`veil apply --postgres`, a reader logging in as herself must see, through each secure
view, exactly her own table's marker, and its secret column masked."""
import importlib.util
from pathlib import Path

import psycopg

from pgshop import KEYRING, SHOP, reader_url, veil

_spec = importlib.util.spec_from_file_location(
    "identifiers_gen", Path(__file__).resolve().parents[1] / "e2e" / "identifiers_gen.py")
ids = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ids)


def q(name):
    return '"' + name.replace('"', '""') + '"'


def test_postgres_views_read_exactly_their_relation_and_column(cluster, tmp_path):
    server, _ = cluster
    rels = ids.relations()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE idents")
    url = f"{server}/idents"
    with psycopg.connect(url) as pg:
        made = set()
        for i, (_, schema, table, column) in enumerate(rels):
            pg.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
            pg.execute(f"CREATE TABLE {q(schema)}.{q(table)} (marker text, {q(column)} text)")
            # `%` in a name is a placeholder to psycopg when parameters are passed.
            insert = f"INSERT INTO {q(schema)}.{q(table)}".replace("%", "%%") + " VALUES (%s, %s)"
            pg.execute(insert, [f"marker-{i}", f"secret-{i}"])
            made.add((schema, table))
        for schema, table in {(s, t.rsplit(".", 1)[1]) for _, s, t, _ in rels if "." in t}:
            if (schema, table) not in made:
                pg.execute(f"CREATE TABLE {q(schema)}.{q(table)} (marker text, x text)")
                pg.execute(f"INSERT INTO {q(schema)}.{q(table)} VALUES ('decoy', 'decoy')")
    (tmp_path / "catalog.yaml").write_text(ids.catalog(rels), encoding="utf-8")
    (tmp_path / "policies.yaml").write_text(ids.POLICIES)
    # Roles are the cluster's and apply sets their memberships: keep the shop's readers
    # (other tests' database) beside kim, or they would lose veil_reader here.
    shop_users = (SHOP / "users.yaml").read_text()
    (tmp_path / "users.yaml").write_text(shop_users.rstrip("\n") + "\n  - {name: kim}\n")
    args = ["--policies", tmp_path / "policies.yaml", "--users", tmp_path / "users.yaml",
            "--catalog", tmp_path / "catalog.yaml"]
    veil("apply", *args, "--postgres", url, "--keyring", KEYRING)
    with psycopg.connect(reader_url(url, "kim"), autocommit=True) as kim:
        for i, (_, schema, table, column) in enumerate(rels):
            cur = kim.execute(f"SELECT * FROM secure.{q(table)}")
            rows = [dict(zip([d.name for d in cur.description], r)) for r in cur.fetchall()]
            assert rows == [{"marker": f"marker-{i}", column: None}], (schema, table, column, rows)
