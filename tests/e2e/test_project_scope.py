"""A project-scoped hash is keyed by the project a reader acts under, which the
reader names in the session (`SET VARIABLE veil_project`). Naming a project one is
not a member of must not give that project's hashes (they would let an outsider
join its pseudonyms): the value is NULL, as for a reader acting under no project."""
import duckdb

from conftest import EXTENSION, KEYRING, as_reader, connect, expected_hash, veil

POLICIES = """name: open
type: subscription
actions: {type: anyone}
---
name: pseudonyms
type: data
rules:
  - {type: mask, columns: {names: [email]}, mask: {type: hash, scope: project}}
"""
USERS = """users:
  - {name: member, projects: [fraud-team]}
  - {name: outsider}
projects:
  - {name: fraud-team, purposes: [Fraud]}
"""
CATALOG = """sources:
  - name: main.people
    schema: main
    columns:
      - {name: id, type: integer}
      - {name: email, type: text}
"""


def test_a_project_named_by_a_non_member_gives_no_hashes(tmp_path):
    for name, text in [("policies.yaml", POLICIES), ("users.yaml", USERS), ("catalog.yaml", CATALOG)]:
        (tmp_path / name).write_text(text)
    db = tmp_path / "p.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE main.people AS SELECT 1 AS id, 'ann@example.com' AS email")
    con.close()
    veil("apply", "--policies", tmp_path / "policies.yaml", "--users", tmp_path / "users.yaml",
         "--catalog", tmp_path / "catalog.yaml", "--duckdb", db, "--keyring", KEYRING, "--extension", EXTENSION)
    con = connect(db)
    sql = "SELECT email FROM secure.people"
    member = as_reader(con, "member", sql, project="fraud-team")[0]["email"]
    assert member == expected_hash("ann@example.com", "project:fraud-team")
    # The outsider names the member's project: no hash (not the member's, not a raw value).
    assert as_reader(con, "outsider", sql, project="fraud-team")[0]["email"] is None
    assert as_reader(con, "outsider", sql)[0]["email"] is None
    assert as_reader(con, "member", sql)[0]["email"] is None
