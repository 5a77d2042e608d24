"""Spark end to end (helpers and fixtures for tests/spark): a standalone cluster and
the Thrift server started once per run (scripts/spark-cluster, stopped by pid), with
veil's guard and password authentication; the example shop built by dbt into DuckDB,
its tables copied into Spark as parquet, bound by `veil apply --spark`, and read by
each reader logging in as themselves."""
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import duckdb
import pytest
from pyhive import hive

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
KEYRING = SHOP / "keyring.txt"
SOURCES = ["main.customers", "main.orders", "main.payments", "main.employees"]
USERS = ["alice", "bob", "carol", "dave", "erin", "hana"]
ADMIN = "veil_admin"
# Every account of the test server: the readers, veil's admin, veil verify's
# stranger, and a user veil does not know.
ACCOUNTS = [*USERS, ADMIN, "veil_stranger", "mallory"]
UDF_JAR = ROOT / "dist" / "spark" / "veil-spark-udf.jar"
GUARD_JAR = ROOT / "dist" / "spark" / "veil-spark-guard.jar"

# The DuckDB side's helpers (veil binary, reader sessions) from tests/e2e.
_spec = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests" / "e2e" / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)


def veil(*args, check=True, env=None):
    """Run the veil CLI with `env` added to the environment."""
    result = subprocess.run([str(e2e.veil_binary()), *map(str, args)], capture_output=True, text=True,
                            env=dict(os.environ, **(env or {})))
    if check and result.returncode != 0:
        raise AssertionError(f"veil {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


def password(user):
    """Each test account's password (the server's file holds only their PBKDF2 hashes)."""
    return f"{user}-pw-{user[::-1]}"


def password_file(path):
    lines = []
    for user in ACCOUNTS:
        salt = os.urandom(16)
        digest = hashlib.pbkdf2_hmac("sha256", password(user).encode(), salt, 1000)
        lines.append(f"{user}:1000:{salt.hex()}:{digest.hex()}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


class Server:
    """The Thrift server of the test cluster."""

    def __init__(self, port, state):
        self.port = port
        self.state = state
        self.url = f"jdbc:hive2://127.0.0.1:{port}/default"

    def connect(self, user, secret=None, configuration=None):
        return hive.connect(host="127.0.0.1", port=self.port, username=user,
                            password=password(user) if secret is None else secret, auth="CUSTOM",
                            configuration=configuration)

    def query(self, user, sql, secret=None, configuration=None):
        """Rows (dicts) `user` gets; raises PyHive's errors."""
        con = self.connect(user, secret, configuration)
        try:
            cur = con.cursor()
            cur.execute(sql)
            if cur.description is None:
                return []
            columns = [d[0].split(".")[-1] for d in cur.description]
            return [dict(zip(columns, row)) for row in cur.fetchall()]
        finally:
            con.close()

    def admin(self, *statements):
        con = self.connect(ADMIN)
        try:
            cur = con.cursor()
            out = None
            for sql in statements:
                cur.execute(sql)
                out = cur.fetchall() if cur.description else []
            return out
        finally:
            con.close()


def message(error):
    """HiveServer2's message for a PyHive error."""
    status = getattr(getattr(error, "args", [None])[0], "status", None)
    return getattr(status, "errorMessage", None) or str(error)


@pytest.fixture(scope="session")
def server():
    """The cluster (master, two 1-core workers, Thrift server with veil's guard) on
    127.0.0.1, VEIL_SPARK_PORT..+19 (default 17000); stopped by pid at the end."""
    assert GUARD_JAR.exists() and UDF_JAR.exists(), "build the Spark jars first: scripts/build-spark"
    port = int(os.environ.get("VEIL_SPARK_PORT", "17000"))
    base = Path(tempfile.mkdtemp(prefix="veil-spark-"))
    passwords = base / "passwords"
    password_file(passwords)
    script = ROOT / "scripts" / "spark-cluster"
    env = dict(os.environ, VEIL_SPARK_GUARD=str(GUARD_JAR), VEIL_SPARK_ADMINS=ADMIN, VEIL_SPARK_PASSWORDS=str(passwords))
    try:
        subprocess.run([script, "start", base / "cluster", str(port)], check=True, env=env, capture_output=True,
                       text=True)
        yield Server(port + 10, base / "cluster")
    finally:
        subprocess.run([script, "stop", base / "cluster"], check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The shop built by dbt into DuckDB."""
    return e2e.build_shop(tmp_path_factory.mktemp("sparkshop"))


def project_args(project):
    return ["--policies", project / "policies", "--users", project / "users.yaml", "--dbt-target", project / "target"]


def source_args():
    return [a for s in SOURCES for a in ("--source", s)]


@pytest.fixture(scope="session")
def loaded(server, built, tmp_path_factory):
    """The shop's four tables as dbt built them, copied into Spark (schema main) as parquet."""
    folder = tmp_path_factory.mktemp("parquet")
    con = duckdb.connect(str(built / "target" / "shop.duckdb"), read_only=True)
    statements = ["CREATE DATABASE IF NOT EXISTS main"]
    for source in SOURCES:
        table = source.split(".")[1]
        path = folder / f"{table}.parquet"
        con.execute(f"COPY main.{table} TO '{path}' (FORMAT parquet)")
        statements += [f"DROP TABLE IF EXISTS main.{table}",
                       f"CREATE TABLE main.{table} USING parquet AS SELECT * FROM parquet.`file://{path}`"]
    con.close()
    server.admin(*statements)
    return server


def apply(built, server, *extra, check=True):
    return veil("apply", *project_args(built), *source_args(), "--spark", server.url, "--keyring", KEYRING,
                "--udf-jar", UDF_JAR, *extra, check=check, env={"VEIL_SPARK_PASSWORD": password(ADMIN)})


@pytest.fixture(scope="session")
def applied(loaded, built):
    apply(built, loaded)
    return loaded


@pytest.fixture(scope="session")
def duck(built, tmp_path_factory):
    """The same shop and policies applied to DuckDB; a connection."""
    database = tmp_path_factory.mktemp("sparkduck") / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    e2e.veil("apply", *project_args(built), *e2e.engine_args(database))
    con = e2e.connect(database)
    yield con
    con.close()


def generation(server):
    """The generation suffix of veil's tables in place."""
    tables = [row[1] for row in server.admin("SHOW TABLES IN veil")]
    return max(int(t[len("keys_g"):]) for t in tables if t.startswith("keys_g"))
