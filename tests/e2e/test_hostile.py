"""Hostile names and values: quotes, reserved words and SQL in policy strings stay data."""
import duckdb
import pytest

from conftest import as_reader, connect, engine_args, veil

CATALOG = """
sources:
  - name: 'odd "schema".it''s'
    schema: 'odd "schema"'
    tags: [Open]
    columns:
      - {name: select, type: text, tags: [PII]}
      - {name: 'a"b', type: text, tags: [Note]}
      - {name: n, type: integer}
"""

USERS = """
groups:
  - name: "Ops'; DROP TABLE x; --"
users:
  - name: "o'brien"
    groups: ["Ops'; DROP TABLE x; --"]
  - name: 'plain'
"""

POLICIES = """
name: Open to all
type: subscription
actions: {type: anyone}
circumstances: [{type: tags, tag: Open}]
---
name: "Mask it'; --"
type: data
circumstances: [{type: tags, tag: Open}]
rules:
  - type: mask
    columns: {tags: [PII]}
    mask: {type: constant, value: "'); DROP TABLE canary; --"}
    exceptFor: {groups: ["Ops'; DROP TABLE x; --"]}
  - type: mask
    columns: {tags: [Note]}
    mask: {type: regex, pattern: "'", replacement: "''"}
  - type: where
    sql: "n <> 13"
"""


@pytest.fixture()
def hostile(tmp_path):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "users.yaml").write_text(USERS)
    (tmp_path / "policies.yaml").write_text(POLICIES)
    database = tmp_path / "odd.duckdb"
    c = duckdb.connect(str(database))
    c.execute('CREATE SCHEMA "odd ""schema"""')
    c.execute('CREATE TABLE "odd ""schema"""."it\'s" ("select" VARCHAR, "a""b" VARCHAR, n INTEGER)')
    c.execute('INSERT INTO "odd ""schema"""."it\'s" VALUES (\'secret\', \'it\'\'s\', 1), (\'hidden\', \'x\', 13)')
    c.execute("CREATE TABLE canary (x INTEGER)")
    c.close()
    args = ["--policies", tmp_path / "policies.yaml", "--users", tmp_path / "users.yaml", "--catalog", tmp_path / "catalog.yaml"]
    veil("apply", *args, *engine_args(database))
    return database


def test_quotes_and_sql_stay_literal(hostile):
    c = connect(hostile)
    plain = as_reader(c, "plain", 'SELECT * FROM secure."it\'s"')
    assert plain == [{"select": "'); DROP TABLE canary; --", 'a"b': "it''s", "n": 1}]
    ops = as_reader(c, "o'brien", 'SELECT * FROM secure."it\'s"')
    assert ops == [{"select": "secret", 'a"b': "it''s", "n": 1}]
    assert c.execute("SELECT count(*) FROM canary").fetchone()[0] == 0, "canary table still there"
    c.close()
