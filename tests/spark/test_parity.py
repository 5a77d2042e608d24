"""Every reader sees through Spark's secure views what DuckDB's views show them, and
`veil verify --spark` agrees with the plan, logging in as each reader."""
import datetime
import decimal

import duckdb
import pytest
from pyhive.exc import OperationalError

from sparkshop import ADMIN, KEYRING, SOURCES, USERS, apply, e2e, message, password, project_args, veil


def plain(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, decimal.Decimal)):
        return str(value)
    return value


def normal(rows):
    return sorted(tuple(sorted((k, plain(v)) for k, v in r.items())) for r in rows)


def duck_rows(con, user, table):
    try:
        return e2e.as_reader(con, user, f"SELECT * FROM secure.{table}")
    except duckdb.Error as e:
        assert "may not read" in str(e), e
        return None


def spark_rows(server, user, table):
    try:
        return server.query(user, f"SELECT * FROM secure.{table}")
    except OperationalError as e:
        assert f"veil: reader {user} may not read" in message(e), message(e)
        return None


@pytest.mark.parametrize("user", USERS)
def test_every_reader_sees_in_spark_what_duckdb_shows(applied, duck, user):
    compared = 0
    for source in SOURCES:
        table = source.split(".")[1]
        expected = duck_rows(duck, user, table)
        got = spark_rows(applied, user, table)
        if expected is None:
            assert got is None, f"{user} reads {table} in Spark but not in DuckDB"
            continue
        assert got is not None, f"{user} is refused {table} in Spark but not in DuckDB"
        assert normal(got) == normal(expected), f"{user} / {table}"
        compared += len(got)
    if user != "dave":
        assert compared > 0


def test_every_mask_kind_of_the_example_runs_on_spark(applied):
    """FF1 and tokens through the JNI UDFs, keyed hashes in SQL: not NULL, not raw
    (carol is not in Support: e-mails hashed, phones FF1; alice is not in the Legal
    Team: SSNs tokenised)."""
    raw = {r[0]: r for r in applied.admin("SELECT customer_id, email, phone, ssn FROM main.customers")}
    carol = applied.query("carol", "SELECT customer_id, email, phone FROM secure.customers")
    alice = applied.query("alice", "SELECT customer_id, ssn FROM secure.customers")
    assert carol and alice
    for r in carol:
        _, email, phone, _ = raw[r["customer_id"]]
        assert r["email"] != email and len(r["email"]) == 64
        assert phone is None or (r["phone"] != phone and len(r["phone"]) == len(phone))
    assert any(r["ssn"] for r in alice)
    for r in alice:
        ssn = raw[r["customer_id"]][3]
        assert ssn is None or (r["ssn"].startswith("vt1.") and ssn not in r["ssn"])


def test_verify_passes_as_every_reader(applied, built, tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text("".join(f"{u}:{password(u)}\n" for u in [*USERS, "veil_stranger"]))
    result = veil("verify", *project_args(built), "--source", "main.customers", "--spark", applied.url,
                  "--keyring", KEYRING, "--spark-credentials", credentials,
                  env={"VEIL_SPARK_PASSWORD": password(ADMIN)})
    assert "0 problem(s)" in result.stdout, result.stdout


def test_verify_finds_a_view_that_stopped_masking(applied, built, tmp_path):
    """An admin replaces one secure view with the raw table: verify names the readers."""
    credentials = tmp_path / "credentials"
    credentials.write_text("".join(f"{u}:{password(u)}\n" for u in [*USERS, "veil_stranger"]))
    applied.admin("CREATE OR REPLACE VIEW secure.payments AS SELECT * FROM main.payments")
    try:
        result = veil("verify", *project_args(built), "--source", "main.payments", "--spark", applied.url,
                      "--keyring", KEYRING, "--spark-credentials", credentials, check=False,
                      env={"VEIL_SPARK_PASSWORD": password(ADMIN)})
    finally:
        apply(built, applied)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL reader `dave`, source `main.payments`" in result.stdout
    assert "instead of refusing" in result.stdout
