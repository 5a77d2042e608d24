"""What each reader sees through PostgreSQL: the same as through DuckDB, and nothing else."""
import shutil

import duckdb
import psycopg
import pytest

from pgshop import KEYRING, SOURCES, USERS, apply, as_pg_reader, e2e, project_args, source_args, veil

DENIED = psycopg.errors.InsufficientPrivilege


def normal(rows):
    return sorted(tuple(sorted(r.items())) for r in rows)


def duck_rows(con, user, table, project=None):
    try:
        return e2e.as_reader(con, user, f"SELECT * FROM secure.{table}", project=project)
    except duckdb.Error as e:
        assert "may not read" in str(e), e
        return None


def pg_rows(database, user, table, project=None):
    try:
        return as_pg_reader(database, user, f"SELECT * FROM secure.{table}", project=project)
    except DENIED:
        return None


def test_the_example_policies_are_refused_naming_policy_and_column(built):
    result = veil("bind", "--engine", "postgres", *project_args(built, "policies"), *source_args(), check=False)
    assert result.returncode == 1, result.stderr
    assert "policy `protect-customers`" in result.stderr
    assert "no faithful PostgreSQL equivalent" in result.stderr


@pytest.mark.parametrize("user", USERS)
def test_every_reader_sees_in_postgres_what_duckdb_shows(applied, duck, user):
    compared = 0
    for project in (None, "growth_dashboard"):
        for source in SOURCES:
            table = source.split(".")[1]
            expected = duck_rows(duck, user, table, project)
            got = pg_rows(applied, user, table, project)
            if expected is None:
                assert got is None, f"{user} reads {table} in PostgreSQL but not in DuckDB"
                continue
            assert got is not None, f"{user} is refused {table} in PostgreSQL but not in DuckDB"
            assert normal(got) == normal(expected), f"{user} / {table} / project {project}"
            compared += len(got)
    if user != "dave":
        assert compared > 0


def test_keyed_hashes_match_veil_core(applied):
    rows = as_pg_reader(applied, "carol", "SELECT customer_id, email, phone, ssn FROM secure.customers")
    with psycopg.connect(applied) as admin:
        raw = {r[0]: r for r in admin.execute("SELECT customer_id, email, phone, ssn FROM main.customers")}
    assert rows
    for row in rows:
        assert row["email"] == e2e.expected_hash(raw[row["customer_id"]][1], "source:main.customers")
        assert row["phone"] == e2e.expected_hash(raw[row["customer_id"]][2], "source:main.customers")
        assert row["ssn"] == raw[row["customer_id"]][3], "legal reads SSNs"


def test_unentitled_readers_get_permission_denied(applied):
    with pytest.raises(DENIED, match="permission denied for view customers"):
        as_pg_reader(applied, "dave", "SELECT * FROM secure.customers")
    with pytest.raises(DENIED, match="permission denied for view employees"):
        as_pg_reader(applied, "alice", "SELECT * FROM secure.employees")


@pytest.mark.parametrize("user", ["alice", "carol", "dave"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM main.customers",
        "SELECT * FROM veil.keys",
        "SELECT veil.keyed_hash('alice@example.com', 'default', 'source:main.customers', NULL)",
        "SELECT veil.in_sample('1', 'default', 'source:main.orders', 1)",
        "SELECT * FROM veil.view_customers()",
        "SELECT * FROM veil.user_groups",
        "SET ROLE veil_owner",
    ],
)
def test_readers_cannot_go_around_the_views(applied, user, sql):
    with pytest.raises(DENIED, match="permission denied"):
        as_pg_reader(applied, user, sql)


def test_even_with_usage_on_the_schema_the_mask_function_is_not_executable(applied):
    with psycopg.connect(applied, autocommit=True) as admin:
        admin.execute("GRANT USAGE ON SCHEMA veil TO alice")
        try:
            with pytest.raises(DENIED, match="permission denied for function keyed_hash"):
                as_pg_reader(applied, "alice", "SELECT veil.keyed_hash('x', 'default', 'source:main.customers', NULL)")
            with pytest.raises(DENIED, match="permission denied for table keys"):
                as_pg_reader(applied, "alice", "SELECT * FROM veil.keys")
        finally:
            admin.execute("REVOKE USAGE ON SCHEMA veil FROM alice")


def test_set_role_does_not_change_who_reads(applied):
    # session_user decides: an admin acting as carol is not carol.
    with psycopg.connect(applied, autocommit=True) as admin:
        admin.execute("SET ROLE carol")
        with pytest.raises(DENIED, match="may not read"):
            admin.execute("SELECT * FROM secure.customers").fetchall()


def grants(database):
    with psycopg.connect(database) as admin:
        return sorted(admin.execute(
            "SELECT grantee, table_schema, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee IN (SELECT unnest(%s::text[]))", [USERS]).fetchall())


def test_generated_sql_holds_no_key_material(built):
    sql = veil("bind", "--engine", "postgres", *project_args(built), *source_args()).stdout
    master = KEYRING.read_text().split("default =")[1].split()[0]
    assert master not in sql
    assert "veil.keys" in sql or '"veil"."keys"' in sql


def test_reapply_is_idempotent_and_a_policy_edit_revokes(applied, built, tmp_path):
    before = grants(applied)
    assert ("carol", "secure", "customers", "SELECT") in before
    apply(built, applied)
    assert grants(applied) == before, "re-applying changes nothing"
    carol = normal(as_pg_reader(applied, "carol", "SELECT * FROM secure.customers"))

    edited = built / "policies_no_france"
    shutil.copytree(built / "policies_pg", edited)
    text = (edited / "subscription.yaml").read_text()
    assert "      - {name: Country, value: France}\n" in text
    (edited / "subscription.yaml").write_text(text.replace("      - {name: Country, value: France}\n", ""))
    try:
        apply(built, applied, "policies_no_france")
        after = grants(applied)
        for french in ("carol", "erin"):
            assert (french, "secure", "customers", "SELECT") not in after
            with pytest.raises(DENIED, match="permission denied for view customers"):
                as_pg_reader(applied, french, "SELECT * FROM secure.customers")
        assert ("alice", "secure", "customers", "SELECT") in after
        assert as_pg_reader(applied, "alice", "SELECT count(*) AS n FROM secure.customers")[0]["n"] > 0
    finally:
        apply(built, applied)
    assert grants(applied) == before
    assert normal(as_pg_reader(applied, "carol", "SELECT * FROM secure.customers")) == carol
