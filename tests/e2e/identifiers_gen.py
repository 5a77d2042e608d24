"""Hostile identifiers for the round-trip tests (tests/e2e/test_identifiers.py,
tests/postgres/test_pg_identifiers.py): a fixed set of nasty names and seeded random
ones (VEIL_IDENT_SEED, VEIL_IDENT_CASES for longer runs), and a catalog over them."""
import json
import os
import random

SEED = int(os.environ.get("VEIL_IDENT_SEED", "20261130"))
CASES = int(os.environ.get("VEIL_IDENT_CASES", "12"))

NASTY = [
    ("PROD.DB", "raw", "events.v2", "cfg.ids.org"),
    ('we"ird', "it's", 'a"b`c', "select"),
    ("Db", "Mixed Case", "Table Name", "Column Name"),
    ("données", "schéma", "表.名", "naïve"),
    ("d", "order", "group", "from"),
    ("back\\slash", "s\\", "t\\'", "c\\\\"),
]

PIECES = ["a", "B", "z9", ".", '"', "`", "'", " ", "\\", "é", "ß", "中", "select", "from", "Order", "_", "-", "$", "%"]


def random_name(rng, i, role):
    name = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
    # Unique ignoring case, so DuckDB's case-insensitive names never clash by chance.
    return f"{name}{role}{i}"


def relations():
    rng = random.Random(SEED)
    out = list(NASTY)
    for i in range(CASES):
        out.append(tuple(random_name(rng, i, role) for role in ("d", "s", "t", "c")))
    return out


def catalog(rels):
    """A catalog in JSON (a subset of YAML): each relation with a marker column and a secret one."""
    sources = []
    for i, (database, schema, table, column) in enumerate(rels):
        sources.append({
            "name": f"src{i}",
            "database": database,
            "schema": schema,
            "identifier": table,
            "tags": ["Open"],
            "columns": [
                {"name": "marker", "type": "varchar"},
                {"name": column, "type": "varchar", "tags": ["PII.Secret"]},
            ],
        })
    return json.dumps({"sources": sources}, ensure_ascii=False)


POLICIES = """
name: Open
type: subscription
actions: {type: anyone}
circumstances: [{type: tags, tag: Open}]
---
name: Secrets
type: data
rules:
  - {type: mask, columns: {tags: [PII.Secret]}, mask: {type: null}}
"""


