"""What a hostile reader tries on Spark, refused by veil's guard (engines/spark): base
tables, veil's facts and keys, the mask functions as an oracle, path reads,
reflection, DDL and other statements, session settings, and logging in as someone
else. Each refusal is checked to leave nothing changed."""
import pytest
from pyhive.exc import OperationalError
from thrift.transport.TTransport import TTransportException

from sparkshop import ADMIN, generation, message, password

READER = "alice"  # entitled to secure.customers


def refused(server, sql, user=READER, expect="may not"):
    with pytest.raises(OperationalError) as e:
        server.query(user, sql)
    assert f"veil: reader `{user}` {expect}" in message(e.value), message(e.value)


def hostile_queries(server):
    g = generation(server)
    warehouse = server.admin("DESCRIBE FORMATTED main.customers")
    location = next(row[1] for row in warehouse if row[0] == "Location")
    return {
        "base table": "SELECT * FROM main.customers",
        "base table, fully qualified": "SELECT * FROM spark_catalog.main.customers",
        "base table by IDENTIFIER": "SELECT * FROM IDENTIFIER('main.customers')",
        "base table by TABLE": "TABLE main.customers",
        "base table in a CTE": "WITH c AS (SELECT * FROM main.customers) SELECT * FROM c",
        "base table beside a view": "SELECT email FROM secure.customers UNION ALL SELECT email FROM main.customers",
        "base table in a subquery": "SELECT * FROM secure.customers WHERE email IN (SELECT email FROM main.customers)",
        "base table in a scalar subquery": "SELECT (SELECT max(ssn) FROM main.customers)",
        "keys": f"SELECT * FROM veil.keys_g{g}",
        "keys in a subquery": f"SELECT (SELECT max(key_hex) FROM veil.keys_g{g})",
        "facts": f"SELECT * FROM veil.user_groups_g{g}",
        "oracle: FF1 UDF": "SELECT veil.veil_ff1('4111-1111-1111', unhex(repeat('00', 32)), 'source:main.customers')",
        "oracle: token UDF": "SELECT veil.veil_token('x', unhex(repeat('00', 32)), 'source:main.customers')",
        "oracle: UDF with the stored key": (
            f"SELECT veil.veil_ff1('4111-1111-1111', (SELECT unhex(key_hex) FROM veil.keys_g{g} LIMIT 1), 's')"
        ),
        "path read": f"SELECT * FROM parquet.`{location}`",
        "reflect": "SELECT reflect('java.lang.System', 'getenv', 'HOME')",
        "java_method": "SELECT java_method('java.lang.System', 'getProperty', 'user.dir')",
        "try_reflect": "SELECT try_reflect('java.lang.System', 'getenv', 'HOME')",
    }


DDL = {
    "create table": "CREATE TABLE main.stolen USING parquet AS SELECT * FROM main.customers",
    "replace a secure view": "CREATE OR REPLACE VIEW secure.customers AS SELECT * FROM main.customers",
    "drop a secure view": "DROP VIEW secure.customers",
    "temporary view over a base table": "CREATE TEMPORARY VIEW t AS SELECT * FROM main.customers",
    "own function from a jar": "CREATE FUNCTION f AS 'veil.spark.udf.Ff1' USING JAR 'file:///tmp/x.jar'",
    "add jar": "ADD JAR file:///tmp/x.jar",
    "insert": "INSERT INTO main.customers SELECT * FROM main.customers",
    "set": "SET spark.sql.session.timeZone = Pacific/Kiritimati",
    "set the guard's admins": "SET spark.veil.admins = alice",
    "cache": "CACHE TABLE main.customers",
    "explain": "EXPLAIN SELECT * FROM main.customers",
    "describe": "DESCRIBE secure.customers",
    "drop veil": "DROP DATABASE veil CASCADE",
}


def test_hostile_queries_are_refused(applied):
    queries = hostile_queries(applied)
    assert applied.query(READER, "SELECT count(*) AS n FROM secure.customers")[0]["n"] > 0
    for what, sql in queries.items():
        with pytest.raises(OperationalError) as e:
            applied.query(READER, sql)
        assert f"veil: reader `{READER}` may not" in message(e.value), f"{what}: {message(e.value)}"


@pytest.mark.parametrize("what", DDL)
def test_statements_other_than_queries_are_refused(applied, what):
    before = applied.admin("SHOW TABLES IN main")
    views = applied.admin("SHOW VIEWS IN secure")
    refused(applied, DDL[what])
    assert applied.admin("SHOW TABLES IN main") == before
    assert applied.admin("SHOW VIEWS IN secure") == views


def test_a_user_veil_does_not_know_gets_no_row(applied):
    """mallory may log in, but every view refuses her and the guard the rest."""
    with pytest.raises(OperationalError) as e:
        applied.query("mallory", "SELECT * FROM secure.customers")
    assert "veil: reader mallory may not read main.customers" in message(e.value)
    refused(applied, "SELECT * FROM main.customers", user="mallory")


def test_logging_in_as_another_reader_is_refused(applied):
    for user, secret in [("carol", "wrong"), ("carol", password("alice")), ("nobody", "x"), ("carol", "")]:
        with pytest.raises((TTransportException, OperationalError)):
            applied.query(user, "SELECT 1", secret=secret)


def test_impersonation_through_the_session_is_refused(applied):
    """HiveServer2's proxy user, and settings sent with the session (which reach the
    session without a statement), never change who reads or how."""
    with pytest.raises(OperationalError) as e:
        applied.query(READER, "SELECT current_user()", configuration={"hive.server2.proxy.user": ADMIN})
    assert "substitution is not allowed" in message(e.value)
    for key, value in [("set:hiveconf:spark.sql.session.timeZone", "Pacific/Kiritimati"),
                       ("set:hiveconf:spark.veil.admins", READER),
                       ("set:hivevar:user", ADMIN)]:
        with pytest.raises(OperationalError) as e:
            applied.query(READER, "SELECT count(*) FROM secure.customers", configuration={key: value})
        assert "readers use the server's settings" in message(e.value), f"{key}: {message(e.value)}"
    assert applied.query(READER, "SELECT current_user() AS u")[0]["u"] == READER


def test_an_admin_still_reads_and_writes(applied):
    assert applied.admin("SELECT count(*) FROM main.customers")[0][0] > 0
