"""Hostile readers against `veil apply --postgres`.

Two databases on the session's cluster: the shop with PostgreSQL 15's default
privileges, and a copy where every role may create in `public` (the default before
PostgreSQL 15, kept by upgrades). veil refuses the second until CREATE is revoked;
then the grant comes back (drift after apply) and the attacks run on both: a reader
shadows functions and operators, tries casts, SET ROLE, search paths and session
settings, leaks through predicates and error messages, reads veil's objects and calls
mask functions. Each must fail with nothing disclosed: no code of the reader's runs as
veil_owner, no key and no value the reader's view does not show reaches them.
"""
import psycopg
import pytest

from pgshop import KEYRING, project_args, reader_url, shop_database, source_args, veil

ATTACKER = "erin"  # an analyst: hashed e-mails and phones, orders of her regions only
DENIED = psycopg.errors.InsufficientPrivilege

# A function the reader plants: it reports who runs it and what that role can read.
SPY = """
CREATE TABLE IF NOT EXISTS public.loot (who text, what text);
GRANT INSERT ON public.loot TO PUBLIC;
CREATE OR REPLACE FUNCTION public.spy() RETURNS void LANGUAGE plpgsql AS $$
DECLARE found text;
BEGIN
  BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.encode(k.inner_pad, 'hex'), ',') INTO found FROM veil.keys k;
  EXCEPTION WHEN OTHERS THEN found := 'no keys';
  END;
  BEGIN
    found := found || ' ' || (SELECT pg_catalog.string_agg(c.email, ',') FROM main.customers c);
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RAISE NOTICE 'spy as %: %', current_user, found;
  INSERT INTO public.loot VALUES (current_user, found);
END $$;
"""

# Shadows of what veil's functions (or anyone's) call, each calling the spy first.
SHADOWS = [
    ("convert_to(v text, e text)", "bytea", "pg_catalog.convert_to(v, e::name)"),
    ("sha256(v bytea)", "bytea", "pg_catalog.sha256(v)"),
    ("sha256(v text)", "bytea", "pg_catalog.sha256(pg_catalog.convert_to(v, 'UTF8'))"),
    ("encode(v bytea, f text)", "text", "pg_catalog.encode(v, f)"),
    ("digest(v text, a text)", "bytea", "pg_catalog.sha256(pg_catalog.convert_to(v, 'UTF8'))"),
    ("hmac(v bytea, k bytea, a text)", "bytea", "pg_catalog.sha256(v)"),
    ("hmac(v text, k bytea, a text)", "bytea", "pg_catalog.sha256(pg_catalog.convert_to(v, 'UTF8'))"),
    ("lower(v text)", "text", "pg_catalog.lower(v)"),
    ("lower(v varchar)", "text", "pg_catalog.lower(v)"),
    ("starts_with(a text, b text)", "boolean", "pg_catalog.starts_with(a, b)"),
    ("regexp_replace(a text, b text, c text, d text)", "text", "pg_catalog.regexp_replace(a, b, c, d)"),
    ("left(a text, n integer)", "text", "pg_catalog.left(a, n)"),
    ("repeat(a text, n integer)", "text", "pg_catalog.repeat(a, n)"),
    ("char_length(a text)", "integer", "pg_catalog.char_length(a)"),
    ("date_trunc(a text, b timestamp)", "timestamp", "pg_catalog.date_trunc(a, b)"),
    ("round(a numeric)", "numeric", "pg_catalog.round(a)"),
    ("current_setting(a text, b boolean)", "text", "pg_catalog.current_setting(a, b)"),
    ("substr(a text, b integer, c integer)", "text", "pg_catalog.substr(a, b, c)"),
    ("lpad(a text, b integer, c text)", "text", "pg_catalog.lpad(a, b, c)"),
    ("format(a text, b text)", "text", "pg_catalog.format(a, b)"),
    ("textcat(a text, b text)", "text", "pg_catalog.textcat(a, b)"),
    ("texteq(a text, b text)", "boolean", "pg_catalog.texteq(a, b)"),
]
OPERATORS = [
    ("=", "text", "text", "boolean", "pg_catalog.texteq(a, b)"),
    ("=", "name", "text", "boolean", "pg_catalog.texteq(a::text, b)"),
    ("<>", "text", "text", "boolean", "pg_catalog.textne(a, b)"),
    ("||", "text", "text", "text", "pg_catalog.textcat(a, b)"),
    ("||", "bytea", "bytea", "bytea", "pg_catalog.byteacat(a, b)"),
    ("<", "numeric", "numeric", "boolean", "pg_catalog.numeric_lt(a, b)"),
]


def plant(database, schema="public"):
    """Create every shadow as the attacker in `schema`; what was refused."""
    refused = []
    with psycopg.connect(reader_url(database, ATTACKER), autocommit=True) as con:
        statements = [SPY] if schema == "public" else []
        for signature, returns, call in SHADOWS:
            statements.append(
                f"CREATE FUNCTION {schema}.{signature} RETURNS {returns} LANGUAGE plpgsql AS "
                f"$$ BEGIN PERFORM public.spy(); RETURN {call}; END $$"
            )
        for i, (op, left, right, returns, call) in enumerate(OPERATORS):
            statements.append(
                f"CREATE FUNCTION {schema}.op{i}(a {left}, b {right}) RETURNS {returns} LANGUAGE plpgsql AS "
                f"$$ BEGIN PERFORM public.spy(); RETURN {call}; END $$"
            )
            statements.append(f"CREATE OPERATOR {schema}.{op} (LEFTARG = {left}, RIGHTARG = {right}, "
                              f"FUNCTION = {schema}.op{i})")
        statements.append(f"CREATE FUNCTION {schema}.to_bytes(t text) RETURNS bytea LANGUAGE sql "
                          f"AS $$ SELECT pg_catalog.convert_to(t, 'UTF8') $$")
        statements.append(f"CREATE CAST (text AS bytea) WITH FUNCTION {schema}.to_bytes(text) AS IMPLICIT")
        for sql in statements:
            try:
                con.execute(sql)
            except psycopg.Error as e:
                refused.append((sql.split("(")[0].strip()[:60], type(e).__name__))
    return refused


def reader_session(database, user, setup=(), sql="SELECT * FROM secure.customers"):
    """(rows, notices) of `sql` in a fresh session of `user` after `setup`."""
    notices = []
    with psycopg.connect(reader_url(database, user), autocommit=True) as con:
        con.add_notice_handler(lambda d: notices.append(d.message_primary))
        for s in setup:
            con.execute(s)
        rows = sorted(con.execute(sql).fetchall(), key=repr)
    return rows, notices


def admin_rows(database, sql):
    with psycopg.connect(database, autocommit=True) as con:
        return con.execute(sql).fetchall()


def secrets(database):
    """What must never reach a reader of customers through a mask: raw e-mails, phones, keys."""
    raw = admin_rows(database, "SELECT email, phone, ssn FROM main.customers")
    keys = admin_rows(database, "SELECT encode(inner_pad, 'hex'), encode(outer_pad, 'hex') FROM veil.keys")
    return {v for row in raw for v in row if v} | {k for row in keys for k in row}


def disclosed(texts, database):
    words = secrets(database)
    return [t for t in texts if any(w in str(t) for w in words)]


def fingerprint(database):
    """Roles, memberships, schemas, relations, functions and their ACLs: what apply may change."""
    return admin_rows(
        database,
        """SELECT 'role', rolname, NULL FROM pg_roles WHERE rolname !~ '^pg_'
           UNION ALL SELECT 'member', roleid::regrole::text, member::regrole::text FROM pg_auth_members
           UNION ALL SELECT 'schema', nspname, coalesce(nspacl::text, '') FROM pg_namespace
           UNION ALL SELECT 'rel', c.oid::regclass::text, coalesce(relacl::text, '') FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
           UNION ALL SELECT 'fn', p.oid::regprocedure::text, coalesce(proacl::text, '') FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname NOT IN ('pg_catalog', 'information_schema')
           ORDER BY 1, 2, 3""",
    )


def apply(built, database, *extra, check=True):
    return veil("apply", *project_args(built), *source_args(), "--postgres", database, "--keyring", KEYRING, *extra,
                check=check)


@pytest.fixture(scope="session")
def pre15(cluster, built):
    """The shop's tables where every role may create in `public`, never applied."""
    return shop_database(cluster[0], built, "hostile", "GRANT CREATE ON SCHEMA public TO PUBLIC")


@pytest.fixture(scope="session")
def refusal(built, pre15):
    """What `veil apply` did on the pre-15 database, and the catalog before and after."""
    before = fingerprint(pre15)
    result = apply(built, pre15, check=False)
    return result, before, fingerprint(pre15)


@pytest.fixture(scope="session")
def drifted(built, pre15, refusal):
    """The pre-15 database applied with --revoke-public-create, then `public` opened again."""
    apply(built, pre15, "--revoke-public-create")
    with psycopg.connect(pre15, autocommit=True) as admin:
        admin.execute("GRANT CREATE ON SCHEMA public TO PUBLIC; ANALYZE")
    return pre15


@pytest.fixture(scope="session", params=["default-privileges", "pre-15-privileges"])
def attacked(request, applied):
    """Each database with the attacker's shadows planted; (url, refused creations)."""
    url = applied if request.param == "default-privileges" else request.getfixturevalue("drifted")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("ANALYZE")
    before = {u: reader_session(url, u)[0] for u in ("alice", "carol", ATTACKER)}
    refused = plant(url)
    return url, refused, before


def test_apply_refuses_a_database_where_readers_can_create_in_public(refusal):
    result, before, after = refusal
    assert result.returncode == 1, result.stderr
    assert "PUBLIC (every role) can CREATE in schema public" in result.stderr
    assert "REVOKE CREATE ON SCHEMA public FROM PUBLIC;" in result.stderr
    assert "--revoke-public-create" in result.stderr
    assert after == before, "a refused apply changes nothing"


def test_revoke_public_create_applies_and_closes_public(built, pre15, refusal, tmp_path):
    # `drifted` opens public again; check the state right after the fixing apply.
    apply(built, pre15, "--revoke-public-create")
    acl = admin_rows(pre15, "SELECT has_schema_privilege('public', 'public', 'CREATE'), "
                            "has_schema_privilege('erin', 'public', 'CREATE')")[0]
    assert acl == (False, False)
    rows, _ = reader_session(pre15, ATTACKER)
    assert rows and all(len(r[3]) == 64 for r in rows), "erin reads hashed e-mails"


def test_a_reader_owning_a_base_table_is_refused_and_nothing_changes(built, pre15, drifted):
    with psycopg.connect(pre15, autocommit=True) as admin:
        admin.execute("ALTER TABLE main.payments OWNER TO erin")
    try:
        before = fingerprint(pre15)
        result = apply(built, pre15, "--revoke-public-create", check=False)
        assert result.returncode == 1
        assert "reader role erin owns table main.payments" in result.stderr
        assert "ALTER TABLE main.payments OWNER TO" in result.stderr
        assert fingerprint(pre15) == before
    finally:
        with psycopg.connect(pre15, autocommit=True) as admin:
            admin.execute("ALTER TABLE main.payments OWNER TO postgres")


@pytest.mark.parametrize("grant, finding, fix", [
    ("GRANT CREATE ON SCHEMA secure TO erin", "reader role erin can CREATE in schema secure (the secure views' schema)",
     "REVOKE CREATE ON SCHEMA secure FROM erin;"),
    ('GRANT CREATE ON SCHEMA veil TO "group:Analysts"',
     'reader role "group:Analysts" can CREATE in schema veil (on the search path of veil\'s functions)',
     'REVOKE CREATE ON SCHEMA veil FROM "group:Analysts";'),
    ("GRANT CREATE ON DATABASE shop TO PUBLIC", "PUBLIC (every role) can CREATE in database shop",
     "REVOKE CREATE ON DATABASE shop FROM PUBLIC;"),
])
def test_apply_refuses_where_readers_could_plant_code_and_revokes_when_asked(built, applied, grant, finding, fix):
    with psycopg.connect(applied, autocommit=True) as admin:
        admin.execute(grant)
    before = fingerprint(applied)
    refused = apply(built, applied, check=False)
    assert refused.returncode == 1, refused.stderr
    assert finding in refused.stderr and f"fix: {fix}" in refused.stderr, refused.stderr
    assert fingerprint(applied) == before
    fixed = apply(built, applied, "--revoke-public-create")
    assert fix in fixed.stderr
    assert apply(built, applied).returncode == 0, "nothing left to find"


def test_a_readers_object_in_veils_schema_is_refused(built, applied):
    with psycopg.connect(applied, autocommit=True) as admin:
        admin.execute("CREATE FUNCTION veil.lower(v varchar) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;"
                      "ALTER FUNCTION veil.lower(varchar) OWNER TO erin")
    try:
        result = apply(built, applied, check=False)
        assert result.returncode == 1
        assert "reader role erin owns function veil.lower(character varying)" in result.stderr
        assert "DROP FUNCTION veil.lower(character varying);" in result.stderr
    finally:
        with psycopg.connect(applied, autocommit=True) as admin:
            admin.execute("DROP FUNCTION veil.lower(varchar)")


def test_planted_shadows_never_run_as_veil_owner(attacked):
    url, refused, before = attacked
    for user in ("alice", "carol", ATTACKER):
        for setup in ([], ["SET search_path = public, pg_catalog, pg_temp"], ["SET search_path = public"]):
            rows, notices = reader_session(url, user, setup)
            assert rows == before[user], f"{user}'s rows changed after the shadows ({setup})"
            assert not [n for n in notices if "spy as" in n], f"{user}: {notices[:3]}"
            assert not disclosed(notices, url)
    if "hostile" in url:
        loot = admin_rows(url, "SELECT who, what FROM public.loot")
        assert not [r for r in loot if r[0] != ATTACKER], loot


def test_shadows_could_be_planted_only_where_public_is_open(attacked):
    url, refused, _ = attacked
    casts = [r for r in refused if r[0].startswith("CREATE CAST")]
    assert casts, "nobody may create a cast between built-in types"
    if "hostile" in url:
        assert len(refused) == 1, refused
    else:
        assert len(refused) == 1 + 1 + len(SHADOWS) + 2 * len(OPERATORS) + 1


def test_leaky_predicates_see_only_the_readers_own_rows_and_masked_values(attacked):
    url, _, before = attacked
    setup = ["CREATE FUNCTION pg_temp.peek(v text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS "
             "$$ BEGIN RAISE NOTICE 'peek %', v; RETURN true; END $$"]
    for user in (ATTACKER, "alice"):
        for table, column in (("customers", "email"), ("customers", "ssn"), ("orders", "region"), ("orders", "amount")):
            shown, _ = reader_session(url, user, sql=f"SELECT {column}::text FROM secure.{table}")
            _, notices = reader_session(url, user, setup, f"SELECT * FROM secure.{table} WHERE pg_temp.peek({column}::text)")
            peeked = sorted(n.removeprefix("peek ") for n in notices if n.startswith("peek "))
            assert peeked == sorted(r[0] if r[0] is not None else "<NULL>" for r in shown), (user, table, column)
            if user == ATTACKER:  # alice, in Support, reads e-mails and phones in the clear
                assert not disclosed(peeked, url)
    regions = admin_rows(url, "SELECT count(DISTINCT region) FROM main.orders")[0][0]
    shown = {r[0] for r in reader_session(url, "alice", sql="SELECT region FROM secure.orders")[0]}
    assert 0 < len(shown) < regions, "alice's orders are filtered to her regions: the peek saw no other"


def test_session_settings_do_not_change_what_a_reader_sees(attacked):
    url, _, before = attacked
    for setup in (["SET standard_conforming_strings = off"], ["SET TimeZone = '+14'"],
                  ["SET IntervalStyle = 'sql_standard'"],
                  ["SELECT set_config('veil.project', 'growth_dashboard', false)"]):
        for user in ("alice", "carol"):
            rows, _ = reader_session(url, user, setup)
            assert rows == before[user], (user, setup)


def test_set_role_cannot_reach_more(attacked):
    url, _, before = attacked
    for role in ("veil_owner", "group:Legal Team", "carol", "postgres"):
        with pytest.raises(DENIED):
            reader_session(url, ATTACKER, [f'SET ROLE "{role}"'])
    # A group role she belongs to holds no grant of its own: acting as it reaches less.
    with pytest.raises(DENIED):
        reader_session(url, ATTACKER, ['SET ROLE "group:Analysts"'])
    rows, _ = reader_session(url, ATTACKER, ['SET ROLE "group:Analysts"', "RESET ROLE"])
    assert rows == before[ATTACKER]
    with pytest.raises(DENIED):
        reader_session(url, ATTACKER, ["SET SESSION AUTHORIZATION carol"])


@pytest.mark.parametrize("sql", [
    "SELECT * FROM veil.keys",
    "SELECT * FROM veil.users",
    "SELECT * FROM main.customers",
    "SELECT veil.keyed_hash('jane@example.com', 'default', 'source:main.customers', NULL)",
    "SELECT veil.in_sample('1', 'default', 'source:main.orders', 1)",
    "SELECT veil.deny('x')",
    "SELECT * FROM veil.view_employees()",
    "SELECT * FROM secure.employees",
    "CREATE VIEW secure.trap AS SELECT 1 AS x",
    "CREATE FUNCTION veil.lower(v varchar) RETURNS text LANGUAGE sql AS $$ SELECT v $$",
    "ALTER FUNCTION veil.view_customers() SECURITY INVOKER",
    "DROP TABLE main.customers",
])
def test_veils_objects_and_base_tables_are_out_of_reach(attacked, sql):
    url, _, _ = attacked
    with pytest.raises(DENIED):
        reader_session(url, ATTACKER, sql=sql)


def test_catalogs_and_statistics_disclose_no_value_or_key(attacked):
    url, _, _ = attacked
    rows, _ = reader_session(url, ATTACKER, sql="SELECT tablename, attname, most_common_vals::text FROM pg_stats "
                                                "WHERE schemaname IN ('main', 'veil')")
    assert rows == [], "statistics of tables the reader may not read stay hidden"
    bodies, _ = reader_session(url, ATTACKER, sql="SELECT prosrc FROM pg_proc p JOIN pg_namespace n "
                                                  "ON n.oid = p.pronamespace WHERE nspname = 'veil'")
    assert bodies and not disclosed([b[0] for b in bodies], url)


def test_errors_inside_a_view_function_do_not_quote_base_values(cluster, built, tmp_path):
    """A column the catalog calls integer holds text: PostgreSQL's cast error would quote it."""
    server, _ = cluster
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute("CREATE DATABASE sidechannel")
    url = f"{server}/sidechannel"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA main; CREATE TABLE main.accounts (id text, email text);"
                      "INSERT INTO main.accounts VALUES ('1', 'a@example.com'), ('secret-7731', 'b@example.com')")
    (tmp_path / "catalog.yaml").write_text(
        "sources:\n  - name: main.accounts\n    schema: main\n    tags: [Customer]\n    columns:\n"
        "      - {name: id, type: integer}\n      - {name: email, type: text, tags: [PII.Email]}\n")
    (tmp_path / "policies.yaml").write_text(
        "name: open\ntype: subscription\nactions: {type: grant, entitlements: {groups: [Analysts]}}\n"
        "circumstances: [{type: tags, tag: Customer}]\n---\nname: hash\npolicyKey: hash\ntype: data\n"
        "circumstances: [{type: tags, tag: Customer}]\nrules:\n  - type: mask\n    columns: {tags: [PII.Email]}\n"
        "    mask: {type: hash}\n")
    # The shop's users: roles are the cluster's, and apply sets their memberships.
    veil("apply", "--policies", tmp_path / "policies.yaml", "--users", built / "users.yaml",
         "--catalog", tmp_path / "catalog.yaml", "--postgres", url, "--keyring", KEYRING)
    notices = []
    with psycopg.connect(reader_url(url, ATTACKER), autocommit=True) as con:
        con.add_notice_handler(lambda d: notices.append(d.message_primary))
        con.execute("SET client_min_messages = debug5")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation) as failed:
            con.execute("SELECT id FROM secure.accounts").fetchall()
    diag = failed.value.diag
    text = f"{failed.value} {diag.message_detail} {diag.context} {diag.message_hint} {notices}"
    assert "secret-7731" not in text and "@example.com" not in text, text
    assert "veil: the view of accounts failed" in text
    with psycopg.connect(url, autocommit=True) as admin:
        log = admin.execute("SELECT pg_read_file('server.log')").fetchone()[0]
    assert '"veil"."view_accounts" failed for erin: invalid input syntax for type bigint: "secret-7731"' in log
