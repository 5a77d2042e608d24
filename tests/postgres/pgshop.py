"""PostgreSQL end to end (helpers and fixtures for tests/postgres): the example shop built by dbt into DuckDB, copied into a
throwaway PostgreSQL cluster (scripts/pg-test-cluster), bound by `veil apply --postgres`
and read by each reader logging in as their own role."""
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import duckdb
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SHOP = ROOT / "examples" / "shop"
KEYRING = SHOP / "keyring.txt"
SOURCES = ["main.customers", "main.orders", "main.payments", "main.employees"]
USERS = ["alice", "bob", "carol", "dave", "erin", "hana"]

# The DuckDB side's helpers (hash reference, reader sessions) from tests/e2e.
_spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

PG_TYPES = {"INTEGER": "integer", "BIGINT": "bigint", "VARCHAR": "text", "DATE": "date", "TIMESTAMP": "timestamp",
            "DOUBLE": "double precision", "BOOLEAN": "boolean"}


def veil(*args, check=True):
    return e2e.veil(*args, check=check)


def free_port():
    """VEIL_PG_PORT when set (a port range of one's own), else one the system picks."""
    if os.environ.get("VEIL_PG_PORT"):
        return int(os.environ["VEIL_PG_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def cluster():
    """A throwaway cluster on loopback; yields (admin URL without database, port)."""
    base = tempfile.mkdtemp(prefix="veil-pg-")
    os.chmod(base, 0o755)
    data = Path(base) / "data"
    port = free_port()
    script = ROOT / "scripts" / "pg-test-cluster"
    url = subprocess.run([script, "start", data, str(port)], check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield url.rsplit("/", 1)[0], port
    finally:
        subprocess.run([script, "stop", data], check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The shop built by dbt into DuckDB, with the PostgreSQL policy variant beside its own."""
    work = tmp_path_factory.mktemp("pgshop")
    project = work / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    shutil.copytree(HERE / "policies", project / "policies_pg")
    env = dict(os.environ, SHOP_DUCKDB=str(project / "target" / "shop.duckdb"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for command in (["build"], ["docs", "generate"]):
        subprocess.run(["dbt", *command, "--profiles-dir", ".", "--quiet"], cwd=project, env=env, check=True)
    return project


def project_args(project, policies="policies_pg"):
    return ["--policies", project / policies, "--users", project / "users.yaml", "--dbt-target", project / "target"]


def source_args():
    return [a for s in SOURCES for a in ("--source", s)]


def shop_database(server, built, name, setup=None):
    """A new database `name` holding the four shop tables as dbt built them, after
    running `setup` in it; its admin URL."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{server}/{name}"
    source = duckdb.connect(str(built / "target" / "shop.duckdb"), read_only=True)
    with psycopg.connect(url) as pg:
        if setup:
            pg.execute(setup)
        pg.execute("CREATE SCHEMA main")
        for source_name in SOURCES:
            table = source_name.split(".")[1]
            columns = source.execute(f"DESCRIBE main.{table}").fetchall()
            ddl = ", ".join(f'"{c[0]}" {PG_TYPES.get(c[1], c[1].lower().replace("decimal", "numeric"))}' for c in columns)
            pg.execute(f"CREATE TABLE main.{table} ({ddl})")
            rows = source.execute(f"SELECT * FROM main.{table}").fetchall()
            marks = ", ".join(["%s"] * len(columns))
            with pg.cursor() as cur:
                cur.executemany(f"INSERT INTO main.{table} VALUES ({marks})", rows)
    source.close()
    return url


@pytest.fixture(scope="session")
def database(cluster, built):
    """The shop's tables in database `shop`, with PostgreSQL 15's default privileges."""
    return shop_database(cluster[0], built, "shop")


def apply(built, database, policies="policies_pg"):
    return veil("apply", *project_args(built, policies), *source_args(), "--postgres", database, "--keyring", KEYRING)


@pytest.fixture(scope="session")
def applied(built, database):
    apply(built, database)
    return database


def reader_url(database, user):
    return database.replace("postgres@", f"{user}@", 1)


def as_pg_reader(database, user, sql, project=None):
    """Rows (dicts) `user` sees, logged in as their own role; raises psycopg errors."""
    with psycopg.connect(reader_url(database, user), autocommit=True) as con:
        if project is not None:
            con.execute("SELECT set_config('veil.project', %s, false)", [project])
        cur = con.execute(sql)
        columns = [d.name for d in cur.description]
        return [dict(zip(columns, row)) for row in cur.fetchall()]


@pytest.fixture(scope="session")
def duck(built, tmp_path_factory):
    """The same shop and the same policy variant applied to DuckDB; a connection."""
    database = tmp_path_factory.mktemp("pgduck") / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *project_args(built), *e2e.engine_args(database))
    con = e2e.connect(database)
    yield con
    con.close()
