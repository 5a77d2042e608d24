"""`veil verify --postgres`: every reader's view against the plan, and what changed since."""
import psycopg

from pgshop import KEYRING, project_args, source_args, veil


def verify(built, database):
    return veil("verify", *project_args(built), *source_args(), "--postgres", database, "--keyring", KEYRING,
                check=False)


def test_verify_passes_on_an_applied_database(built, applied):
    result = verify(built, applied)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    probes, checks = int(summary.split()[0]), int(summary.split()[2])
    assert probes >= 6 * 4 and checks > probes, summary
    assert summary.endswith("0 problem(s)")


def test_verify_finds_an_unmasked_column_and_an_open_schema(built, applied):
    with psycopg.connect(applied, autocommit=True) as admin:
        body = admin.execute("SELECT prosrc FROM pg_proc WHERE proname = 'view_customers'").fetchone()[0]
        # Sabotage: the e-mail is no longer hashed for anyone, and public is open again.
        admin.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
        sabotaged = body.replace('"veil"."keyed_hash"("email", ', 'coalesce("email", "email", ', 1)
        assert sabotaged != body
        admin.execute("UPDATE pg_proc SET prosrc = %s WHERE proname = 'view_customers'", [sabotaged])
    try:
        result = verify(built, applied)
        assert result.returncode == 1
        out = result.stdout
        assert "column `email`: " in out and "value(s) shown unmasked" in out, out
        assert "row(s) differ from the reader's plan" in out
        assert "PUBLIC (every role) can CREATE in schema public" in out
        assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC;" in out
    finally:
        with psycopg.connect(applied, autocommit=True) as admin:
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            admin.execute("UPDATE pg_proc SET prosrc = %s WHERE proname = 'view_customers'", [body])
    assert verify(built, applied).returncode == 0
