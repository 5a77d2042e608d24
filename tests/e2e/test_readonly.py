"""`veil query` is a reader: it opens the database read-only, sealed (no files, no
ATTACH, no INSTALL/LOAD, no settings), runs one query and nothing else."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import duckdb
import pytest

from conftest import EXTENSION, KEYRING, connect, engine_args, veil
from states import RUNNER

REFUSED = [
    "DROP VIEW secure.customers",
    "CREATE OR REPLACE VIEW secure.customers AS SELECT * FROM main.customers",
    "ATTACH '/tmp/other.duckdb' AS other",
    "COPY main.customers TO '/tmp/veil-out.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET VARIABLE veil_user = 'carol'",
    "PRAGMA table_info('customers')",
    "CALL pragma_version()",
    "INSERT INTO veil.user_groups VALUES ('kim', 'Legal Team')",
    "DELETE FROM veil.user_attributes",
    "SELECT 1; DROP VIEW secure.customers",
    "SELECT * FROM secure.customers; SET VARIABLE veil_user = 'carol'",
]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(database, reader, sql, *extra, check=True):
    return veil("query", *engine_args(database), "--as", reader, *extra, sql, check=check)


@pytest.mark.parametrize("sql", REFUSED)
def test_statements_other_than_one_query_are_refused(applied, sql):
    before = digest(applied)
    result = query(applied, "kim", sql, check=False)
    assert result.returncode == 2, result.stderr
    assert "veil query runs a single query" in result.stderr
    assert digest(applied) == before


def test_the_views_survive_the_issue_example(applied):
    query(applied, "kim", "DROP VIEW secure.patients", check=False)
    query(applied, "kim", "DROP VIEW secure.customers", check=False)
    assert "customer_id" in query(applied, "alice", "SELECT * FROM secure.customers").stdout


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM 'data.parquet'",
])
def test_a_query_cannot_reach_files(applied, sql):
    result = query(applied, "alice", sql, check=False)
    assert result.returncode == 3
    assert "disabled by configuration" in result.stderr or "Permission" in result.stderr, result.stderr


def test_json_output_is_what_the_reader_sees(applied):
    out = json.loads(query(applied, "alice", "SELECT region FROM secure.orders", "--format", "json").stdout)
    assert out["columns"] == ["region"] and {r[0] for r in out["rows"]} == {"Ohio"}


def test_a_query_leaves_the_file_untouched(applied):
    before = digest(applied)
    query(applied, "carol", "SELECT * FROM secure.customers")
    assert digest(applied) == before
    assert not applied.with_name(applied.name + ".wal").exists()


def test_queries_run_while_another_reader_holds_the_database(applied):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); "
         "time.sleep(60)", str(applied)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        out = query(applied, "bob", "SELECT count(*) AS n FROM secure.employees").stdout
        assert "6" in out
    finally:
        holder.kill()
        holder.wait()


def test_a_reader_waits_for_a_writer_then_says_so(applied):
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
         "time.sleep(float(sys.argv[2]))", str(applied), "2"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        started = time.monotonic()
        waited = query(applied, "bob", "SELECT count(*) FROM secure.employees", "--lock-timeout", "20")
        assert time.monotonic() - started >= 1, "it waited for the writer"
        assert "6" in waited.stdout
    finally:
        writer.kill()
        writer.wait()
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(60)",
         str(applied)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "open"
        timed_out = query(applied, "bob", "SELECT 1", "--lock-timeout", "1", check=False)
        assert timed_out.returncode == 3
        assert "in use by another process" in timed_out.stderr and "--lock-timeout" in timed_out.stderr
    finally:
        writer.kill()
        writer.wait()


def test_apply_is_not_starved_by_a_stream_of_readers(built, applied, tmp_path):
    """Readers that reopen the file back to back always overlap, so DuckDB's lock
    alone would never be free for a writer; the writer's announcement
    (`<database>.veil-lock`) holds new readers back until it is done."""
    from conftest import project_args

    database = tmp_path / "shop.duckdb"
    shutil.copy(applied, database)
    # A new reader, so the apply has something to write (an apply that changes
    # nothing writes nothing).
    users = tmp_path / "users.yaml"
    users.write_text((built / "users.yaml").read_text() + "\n  - name: starve-test-reader\n")
    args = [a if a != built / "users.yaml" else users for a in project_args(built)]
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER_LOOP, str(RUNNER), str(database), str(EXTENSION), "6"],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, VEIL_KEYRING=str(KEYRING)),
        )
        for _ in range(4)
    ]
    try:
        time.sleep(1.5)
        started = time.monotonic()
        out = veil("apply", *args, *engine_args(database), "--lock-timeout", "10")
        assert "in one transaction of" in out.stdout, out.stdout
        assert time.monotonic() - started < 8
    finally:
        counts = [r.communicate(timeout=60)[0].split() for r in readers]
    assert all(int(done) > 0 and int(after) > 0 for done, after in counts), counts


# Opens the database read-only as veil's readers do, holds it 0.3 s (a long query),
# queries, closes; again and again for N seconds. Prints the queries run, then those
# that saw the apply.
READER_LOOP = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("runner", sys.argv[1])
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
request = {"database": sys.argv[2], "extension": sys.argv[3], "mode": "read", "lock_timeout": 30}
until = time.monotonic() + float(sys.argv[4])
first, done, after = None, 0, 0
while time.monotonic() < until:
    session = runner.Session(request)
    time.sleep(0.3)
    answer = session.query({"queries": [{"sql": "SELECT max(taken_at) FROM veil.catalog_snapshot"}]})
    session.close()
    stamp = answer["answers"][0]["rows"][0][0]
    first = first or stamp
    done += 1
    after += stamp != first
print(done, after)
"""


def test_a_sealed_reader_cannot_unseal(applied):
    con = connect(applied)
    con.close()
    result = query(applied, "alice", "SELECT current_setting('enable_external_access') AS e", "--format", "json")
    assert json.loads(result.stdout)["rows"] == [[False]]
