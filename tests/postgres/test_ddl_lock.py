"""Zero policy downtime: the `ddl_command_end` trigger `veil apply --postgres` installs
locks what DDL makes in the DDL's own transaction, so no reader ever reads a new
relation, even where default privileges hand every new table to PUBLIC."""
import threading
import time

import psycopg
import pytest

from pgshop import as_pg_reader, reader_url

DENIED = psycopg.errors.InsufficientPrivilege
READERS = ["alice", "carol", "dave", "erin"]


@pytest.fixture
def open_schema(applied):
    """`main` as a careless administrator leaves it: every role may look in, and every
    new table is granted to PUBLIC by default."""
    with psycopg.connect(applied, autocommit=True) as admin:
        admin.execute("GRANT USAGE ON SCHEMA main TO PUBLIC;"
                      "ALTER DEFAULT PRIVILEGES IN SCHEMA main GRANT SELECT ON TABLES TO PUBLIC")
    try:
        yield applied
    finally:
        with psycopg.connect(applied, autocommit=True) as admin:
            admin.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA main REVOKE SELECT ON TABLES FROM PUBLIC;"
                          "REVOKE USAGE ON SCHEMA main FROM PUBLIC;"
                          "ALTER EVENT TRIGGER veil_lock_new_relations ENABLE;"
                          "DROP TABLE IF EXISTS main.race, main.race__tmp, main.race__old")


def race(database, seconds):
    """Readers query main.race in a loop while dbt-style DDL rebuilds it; rows they read."""
    stop = threading.Event()
    read = {u: 0 for u in READERS}
    tries = {u: 0 for u in READERS}
    errors = []

    def reader(user):
        with psycopg.connect(reader_url(database, user), autocommit=True) as con:
            while not stop.is_set():
                tries[user] += 1
                try:
                    read[user] += con.execute("SELECT count(*) FROM main.race").fetchone()[0]
                except (DENIED, psycopg.errors.UndefinedTable):
                    pass
                except psycopg.Error as e:  # anything else is a finding
                    errors.append(f"{user}: {e}")

    threads = [threading.Thread(target=reader, args=(u,)) for u in READERS]
    for t in threads:
        t.start()
    rounds = 0
    deadline = time.monotonic() + seconds
    with psycopg.connect(database, autocommit=True) as admin:
        while time.monotonic() < deadline:
            with admin.transaction():  # one dbt table materialisation
                admin.execute("CREATE TABLE main.race__tmp AS SELECT g AS id, 'secret ' || g AS v "
                              "FROM generate_series(1, 50) g")
                admin.execute("ALTER TABLE IF EXISTS main.race RENAME TO race__old")
                admin.execute("ALTER TABLE main.race__tmp RENAME TO race")
                admin.execute("DROP TABLE IF EXISTS main.race__old")
            rounds += 1
    stop.set()
    for t in threads:
        t.join()
    return read, tries, rounds, errors


def test_readers_racing_dbt_style_ddl_read_nothing(open_schema):
    read, tries, rounds, errors = race(open_schema, 3)
    assert rounds > 10 and min(tries.values()) > 10, (rounds, tries)
    assert read == {u: 0 for u in READERS}, f"rows read between DDL and lock: {read}"
    assert not errors, errors[:5]


def test_without_the_trigger_the_same_race_leaks(open_schema):
    """The control: the race would see rows if the trigger did not lock them."""
    with psycopg.connect(open_schema, autocommit=True) as admin:
        admin.execute("ALTER EVENT TRIGGER veil_lock_new_relations DISABLE")
    read, _, _, _ = race(open_schema, 1)
    assert sum(read.values()) > 0


def test_a_recreated_base_table_keeps_its_view_and_stays_locked(open_schema):
    before = as_pg_reader(open_schema, "carol", "SELECT * FROM secure.payments")
    assert before
    with psycopg.connect(open_schema) as admin:  # one transaction, as dbt does it
        admin.execute("CREATE TABLE main.payments__tmp AS SELECT * FROM main.payments")
        admin.execute("ALTER TABLE main.payments RENAME TO payments__old")
        admin.execute("ALTER TABLE main.payments__tmp RENAME TO payments")
        admin.execute("DROP TABLE main.payments__old")
    after = as_pg_reader(open_schema, "carol", "SELECT * FROM secure.payments")
    assert sorted(map(repr, after)) == sorted(map(repr, before))
    for user in READERS:
        with pytest.raises(DENIED):
            as_pg_reader(open_schema, user, "SELECT * FROM main.payments")
    with psycopg.connect(open_schema, autocommit=True) as admin:
        logged = admin.execute("SELECT command_tag, object_identity FROM veil.ddl_log "
                               "WHERE object_identity LIKE 'main.payments%' ORDER BY at").fetchall()
    assert ("CREATE TABLE AS", "main.payments__tmp") in logged
    assert ("ALTER TABLE", "main.payments") in logged


def test_a_new_column_stays_out_of_the_view_and_a_direct_grant_is_undone(open_schema):
    columns = list(as_pg_reader(open_schema, "carol", "SELECT * FROM secure.customers LIMIT 1")[0])
    with psycopg.connect(open_schema, autocommit=True) as admin:
        admin.execute("ALTER TABLE main.customers ADD COLUMN secret text DEFAULT 'do not show'")
        admin.execute("GRANT SELECT ON main.customers TO carol")
    try:
        rows = as_pg_reader(open_schema, "carol", "SELECT * FROM secure.customers")
        assert list(rows[0]) == columns
        assert all("do not show" not in map(str, r.values()) for r in rows)
        with pytest.raises(DENIED):
            as_pg_reader(open_schema, "carol", "SELECT secret FROM main.customers")
    finally:
        with psycopg.connect(open_schema, autocommit=True) as admin:
            admin.execute("ALTER TABLE main.customers DROP COLUMN secret")
