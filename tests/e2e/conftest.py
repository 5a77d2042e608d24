"""End to end: the example dbt project built with dbt-duckdb, bound by veil, read as each user."""
import hashlib
import hmac
import os
import shutil
import struct
import subprocess
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
EXTENSION = ROOT / "dist" / "veil.duckdb_extension"
KEYRING = SHOP / "keyring.txt"
KEY = bytes.fromhex(KEYRING.read_text().split("default =")[1].split()[0])


def veil_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "veil"
        if candidate.exists():
            return candidate
    raise AssertionError("build veil first: cargo build --release -p veil-cli")


def veil(*args, check=True):
    """Run the veil CLI; returns the completed process."""
    result = subprocess.run([str(veil_binary()), *map(str, args)], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"veil {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The shop project built by dbt into a fresh DuckDB file; its target folder."""
    return build_shop(tmp_path_factory.mktemp("shop"))


def build_shop(work):
    """Copy the example shop into `work`, build it with dbt-duckdb; the project folder."""
    assert EXTENSION.exists(), "build the extension first: scripts/build-extension"
    project = work / "shop"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    env = dict(os.environ, SHOP_DUCKDB=str(project / "target" / "shop.duckdb"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for command in (["build"], ["docs", "generate"]):
        subprocess.run(["dbt", *command, "--profiles-dir", ".", "--quiet"], cwd=project, env=env, check=True)
    return project


def project_args(project):
    return ["--policies", project / "policies", "--users", project / "users.yaml", "--dbt-target", project / "target"]


def engine_args(database):
    return ["--duckdb", database, "--keyring", KEYRING, "--extension", EXTENSION]


@pytest.fixture(scope="session")
def applied(built, tmp_path_factory):
    """A copy of the built database with veil applied (dynamic views); its path."""
    database = tmp_path_factory.mktemp("applied") / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    veil("apply", *project_args(built), *engine_args(database))
    return database


def connect(database):
    os.environ["VEIL_KEYRING"] = str(KEYRING)
    con = duckdb.connect(str(database), config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{EXTENSION}'")
    return con


def edit(database, *statements):
    """Run statements on the database as someone who can write the file (no veil)."""
    con = duckdb.connect(str(database))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def as_reader(con, user, sql, project=None):
    if user is None:
        con.execute("RESET VARIABLE veil_user")
    else:
        con.execute("SET VARIABLE veil_user = ?", [user])
    if project is None:
        con.execute("RESET VARIABLE veil_project")
    else:
        con.execute("SET VARIABLE veil_project = ?", [project])
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def expected_hash(value, scope):
    """veil's keyed hash, computed independently (HKDF-SHA-256 then HMAC-SHA-256)."""
    kind, _, ident = scope.partition(":")
    info = b"hash\x00" + kind.encode() + b"\x00" + struct.pack(">I", len(ident.encode())) + ident.encode()
    prk = hmac.new(b"veil/v1", KEY, hashlib.sha256).digest()
    derived = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    return hmac.new(derived, value.encode(), hashlib.sha256).hexdigest()
