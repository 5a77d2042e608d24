"""`veil apply` writes only the secure views that are not already as bound: a view is
left alone only when the statement veil would run is the one the last apply recorded,
the view DuckDB holds is the one that apply made, and the base relation has the same
columns; anything else (a policy change, a view replaced by hand, a base column added)
is written again, in the same single transaction."""
import re
import shutil

import duckdb

from conftest import connect, edit, engine_args, project_args, veil, as_reader


def changed(result):
    m = re.search(r"applied: (\d+) secure views \((\d+) created or replaced", result.stdout)
    assert m, result.stdout
    return int(m.group(1)), int(m.group(2))


def test_reapply_writes_only_what_changed(built, tmp_path):
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    total, first = changed(veil("apply", *project_args(built), *engine_args(database)))
    assert first == total > 0

    # Nothing changed: nothing written, readers see the same.
    c = connect(database)
    before = as_reader(c, "carol", "SELECT * FROM secure.customers ORDER BY customer_id")
    c.close()
    assert changed(veil("apply", *project_args(built), *engine_args(database))) == (total, 0)

    # A view replaced by hand (unmasked) is noticed and made again.
    c = duckdb.connect(str(database))
    c.execute("CREATE OR REPLACE VIEW secure.customers AS SELECT * FROM main.customers")
    c.close()
    assert changed(veil("apply", *project_args(built), *engine_args(database))) == (total, 1)
    c = connect(database)
    assert as_reader(c, "carol", "SELECT * FROM secure.customers ORDER BY customer_id") == before
    c.close()

    # A base relation whose columns changed: its view is made again (bound to them).
    c = duckdb.connect(str(database))
    c.execute("ALTER TABLE main.orders ADD COLUMN note VARCHAR")
    c.close()
    assert changed(veil("apply", *project_args(built), *engine_args(database))) == (total, 1)

    # A policy change reaching one source: that view only.
    policies = tmp_path / "policies"
    shutil.copytree(built / "policies", policies)
    masking = policies / "masking.yaml"
    masking.write_text(masking.read_text() + """
---
name: Round payments harder
type: data
circumstances: [{type: dataSource, name: main.payments}]
rules:
  - type: mask
    columns: {names: [method]}
    mask: {type: null}
""")
    args = ["--policies", policies, *project_args(built)[2:]]
    assert changed(veil("apply", *args, *engine_args(database))) == (total, 1)
    c = connect(database)
    rows = as_reader(c, "alice", "SELECT method FROM secure.payments")
    assert rows and all(r["method"] is None for r in rows)
    c.close()
    assert "0 problem(s)" in veil("verify", *args, *engine_args(database)).stdout


def test_an_apply_that_changes_nothing_writes_nothing_and_repairs_what_was_altered(built, tmp_path):
    """Facts about readers, the catalog snapshot and the access record are each
    written again only when they differ from what the database holds (the facts
    by DuckDB's digest of their rows, so an edit by hand is noticed): with
    nothing changed there is no transaction at all."""
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *project_args(built), *engine_args(database))

    def state():
        c = duckdb.connect(str(database), read_only=True)
        try:
            return (
                c.execute("SELECT taken_at FROM veil.catalog_snapshot").fetchall(),
                c.execute("SELECT * FROM veil.user_groups ORDER BY ALL").fetchall(),
                c.execute("SELECT access FROM veil.applied_access").fetchall(),
            )
        finally:
            c.close()

    before = state()
    again = veil("apply", *project_args(built), *engine_args(database)).stdout
    assert "nothing written" in again and "unchanged: catalog snapshot" in again, again
    assert state() == before

    # Facts edited by hand: written again, and only they.
    c = duckdb.connect(str(database))
    c.execute("DELETE FROM veil.user_groups WHERE user_name = 'carol'")
    c.close()
    out = veil("apply", *project_args(built), *engine_args(database)).stdout
    assert "in one transaction of" in out and "unchanged: catalog snapshot" in out, out
    assert state() == before

    # The access record and the snapshot, emptied by hand: both written again.
    c = duckdb.connect(str(database))
    c.execute("UPDATE veil.applied_access SET access = '{}'")
    c.execute("DELETE FROM veil.catalog_snapshot")
    c.close()
    out = veil("apply", *project_args(built), *engine_args(database)).stdout
    assert "recorded: catalog snapshot" in out, out
    after = state()
    assert after[1:] == before[1:] and after[0] != before[0]

    # A new reader: the facts change, nothing else about the views.
    users = tmp_path / "users.yaml"
    users.write_text((built / "users.yaml").read_text() + "\n  - name: newcomer\n    groups: [Employees, Analysts]\n"
                     "    attributes: {Country: US, Access: Strictly Confidential}\n")
    args = [a if a != built / "users.yaml" else users for a in project_args(built)]
    total, views = changed(veil("apply", *args, *engine_args(database)))
    assert views == 0
    c = duckdb.connect(str(database), read_only=True)
    assert c.execute("SELECT count(*) FROM veil.users WHERE user_name = 'newcomer'").fetchone() == (1,)
    c.close()
    c = connect(database)
    assert as_reader(c, "newcomer", "SELECT count(*) AS n FROM secure.customers")[0]["n"] > 0
    c.close()


def test_the_shared_reader_view_and_its_facts_edited_by_hand_are_written_again(built, tmp_path):
    """Every secure view reads its reader from `veil.reader` over `veil.reader_facts`:
    a reader given a group there by hand, or the view replaced, is noticed by the
    facts digest and written again by the next apply."""
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *project_args(built), *engine_args(database))
    query = "SELECT * FROM secure.customers ORDER BY customer_id"
    c = connect(database)
    before = as_reader(c, "carol", query)
    c.close()

    edits = [
        "UPDATE veil.reader_facts SET groups = list_append(groups, 'Support') WHERE user_name = 'carol'",
        "CREATE OR REPLACE VIEW veil.reader AS SELECT true AS \"veil:known\", "
        "['Legal Team', 'Support'] AS \"veil:groups\", CAST([] AS VARCHAR[]) AS \"veil:purposes\", "
        "MAP {'Access': ['Customer']} AS \"veil:attributes\"",
    ]
    for sql in edits:
        edit(database, sql)
        c = connect(database)
        assert as_reader(c, "carol", query) != before, sql  # the edit took effect
        c.close()
        out = veil("apply", *project_args(built), *engine_args(database)).stdout
        assert "in one transaction of" in out, out
        c = connect(database)
        assert as_reader(c, "carol", query) == before, sql
        c.close()


def test_each_command_starts_one_python(built, tmp_path):
    """apply, verify and monitor each start Python once (started before the
    inputs are read, then kept for every session of the command)."""
    import sys

    log = tmp_path / "started.log"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\necho started >> '{log}'\nexec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    for command in ("apply", "verify", "monitor", "apply"):
        log.write_text("")
        veil(command, *project_args(built), *engine_args(database), "--python", python)
        assert log.read_text().count("started") == 1, (command, log.read_text())


def test_a_facts_table_replaced_by_a_view_is_not_taken_for_the_facts(built, tmp_path):
    """A view over the same rows that would answer differently per reader (here:
    every reader known) has the digest of its rows at apply time; the facts
    tables' definitions are part of the digest, so apply does not leave it."""
    database = tmp_path / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *project_args(built), *engine_args(database))
    c = duckdb.connect(str(database))
    c.execute("CREATE TABLE veil.users_copy AS SELECT * FROM veil.users")
    c.execute("DROP TABLE veil.users")
    c.execute("CREATE VIEW veil.users AS SELECT user_name FROM veil.users_copy UNION ALL "
              "SELECT getvariable('veil_user') WHERE getvariable('veil_user') IS NOT NULL")
    c.close()
    result = veil("apply", *project_args(built), *engine_args(database), check=False)
    assert "nothing written" not in result.stdout, result.stdout
    c = duckdb.connect(str(database), read_only=True)
    kinds = c.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'veil' AND view_name = 'users'").fetchone()
    c.close()
    # Either the apply replaced the view with the table, or DuckDB refused and it said so.
    assert kinds == (0,) or result.returncode != 0, (kinds, result.stdout, result.stderr)
