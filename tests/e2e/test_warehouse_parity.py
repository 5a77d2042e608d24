"""The BigQuery and SingleStore targets' secure views, and the Snowflake target's
policies on the base tables, read as each reader, must show what the DuckDB
target's views show. The SQL `veil bind --engine bigquery`
(or `singlestore`) writes for the example is translated to DuckDB by sqlglot and
run in the applied shop database, against the same facts tables (schema `veil`):
`SESSION_USER()` becomes the reader DuckDB's views read (`veil_user`; for
SingleStore as `user@%`), and the UDFs (BigQuery's JS, SingleStore's Wasm) become
macros over the extension's functions (the same veil-core code). Everything else
is the target's own SQL as veil wrote it: conditions, masks in SQL (reveal,
rounding, dates, constants), row filters, refusals. It checks veil's SQL logic
under sqlglot's reading of each dialect, not the warehouses themselves.

Snowflake enforces on the tables: each table becomes a DuckDB view whose columns
are its masking policies' bodies (arguments bound as `USING` binds them) and
whose filter is its row access policy's body; a reader whose role lacks the
table's SELECT grant is refused; `IS_ROLE_IN_SESSION('project:p')` is true when
the reader acts under project p.

Databricks enforces on the tables too (column masks and row filters are SQL
functions): composed the same way, with the policies of
crates/veil-host/tests/fixtures/databricks (the shop's without FF1 and tokens,
which Databricks refuses) and a DuckDB database applied with those same policies.
Its keyed hash and sample are HKDF and HMAC written in SQL: `hmac` is Python's,
registered in DuckDB, and the key is the keyring's, stored in `veil.keys` as the
operator would; `is_account_group_member(g)` reads the reader's groups and
`project:` memberships from the facts."""
import datetime
import hashlib
import hmac
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import duckdb.sqltypes
import pytest
import sqlglot
from sqlglot import exp

from conftest import KEY, ROOT, as_reader, connect, engine_args, project_args, veil

READERS = ["alice", "bob", "carol", "dave", "erin", "hana", "mallory"]

# The targets' UDFs as DuckDB macros calling the extension under the same key
# (the UDFs get the key from veil.keys; the extension from its keyring).
SINGLESTORE_UDFS = [
    "CREATE OR REPLACE MACRO veil.veil_hash(v, k, s) AS veil_hash(v, 'default', s)",
    "CREATE OR REPLACE MACRO veil.veil_hash_reader(v, k, s, r) AS veil_hash(v, 'default', s, r)",
    "CREATE OR REPLACE MACRO veil.veil_in_sample(v, k, s, p) AS CAST(veil_in_sample(v, 'default', s, p) AS INTEGER)",
    "CREATE OR REPLACE MACRO veil.veil_fpe_encrypt(v, k, s) AS veil_fpe_encrypt(v, 'default', s)",
    "CREATE OR REPLACE MACRO veil.veil_token_mask(v, k, s) AS veil_token(v, 'default', s)",
    "CREATE OR REPLACE MACRO veil.veil_regex_replace(v, p, r) AS veil_mask_regex(v, p, r)",
    "CREATE OR REPLACE MACRO veil.veil_email_mask(v) AS veil_mask_email(v)",
    "CREATE OR REPLACE MACRO veil.veil_deny(m) AS error(m)",
    # SESSION_USER() is `user@host` in SingleStore.
    "CREATE OR REPLACE MACRO veil_session_user() AS getvariable('veil_user') || '@%'",
    # MySQL's SUBSTRING_INDEX for a count of -1 (the text after the last delimiter).
    "CREATE OR REPLACE MACRO substring_index(s, d, n) AS "
    "CASE WHEN n = -1 THEN string_split(s, d)[-1] ELSE error('substring_index count') END",
    "CREATE SCHEMA IF NOT EXISTS singlestore",
]
DATABRICKS_POLICIES = ROOT / "crates" / "veil-host" / "tests" / "fixtures" / "databricks"
DATABRICKS_UDFS = [
    "CREATE OR REPLACE MACRO veil_reader() AS getvariable('veil_user')",
    "CREATE OR REPLACE MACRO is_account_group_member(g) AS "
    "EXISTS (SELECT 1 FROM veil.user_groups f WHERE f.user_name = getvariable('veil_user') AND f.group_name = g) "
    "OR EXISTS (SELECT 1 FROM veil.user_projects m WHERE m.user_name = getvariable('veil_user') "
    "AND 'project:' || m.project = g)",
    f"INSERT INTO veil.keys VALUES ('default', '{KEY.hex()}')",
    "CREATE SCHEMA IF NOT EXISTS databricks",
]
SNOWFLAKE_UDFS = [
    "CREATE OR REPLACE MACRO is_role_in_session(r) AS r = 'project:' || coalesce(getvariable('veil_project'), '')",
    "CREATE SCHEMA IF NOT EXISTS snowflake",
]
BIGQUERY_UDFS = [
    "CREATE OR REPLACE MACRO veil.veil_hash(v, k, s, r) AS "
    "CASE WHEN r IS NULL THEN veil_hash(v, 'default', s) ELSE veil_hash(v, 'default', s, r) END",
    "CREATE OR REPLACE MACRO veil.veil_in_sample(v, k, s, p) AS veil_in_sample(v, 'default', s, p)",
    "CREATE OR REPLACE MACRO veil.veil_ff1(v, k, s) AS veil_fpe_encrypt(v, 'default', s)",
    "CREATE OR REPLACE MACRO veil.veil_token(v, k, s) AS veil_token(v, 'default', s)",
    "CREATE OR REPLACE MACRO veil_reader() AS getvariable('veil_user')",
    "CREATE SCHEMA IF NOT EXISTS bigquery",
]
KEYS = "CREATE TABLE IF NOT EXISTS veil.keys (key_id VARCHAR, key_hex VARCHAR)"


def bytewise(node):
    """MySQL's `BINARY x` (compare bytes, not by a case-insensitive collation) is
    plain `x` in DuckDB, whose strings always compare bytewise; sqlglot reads it as
    a cast to BINARY, or as a call when the operand is in parentheses."""
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.BINARY):
        return node.this
    if isinstance(node, exp.Anonymous) and node.name.upper() == "BINARY" and len(node.expressions) == 1:
        return node.expressions[0]
    return node


def translated_views(target: str, built, tmp_path) -> dict[str, str]:
    """View name -> its query in DuckDB's dialect."""
    import sys

    sys_path = str(ROOT / "tests" / "warehouses")
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from test_sql import singlestore_statements, statements

    out = tmp_path / f"{target}.sql"
    if target == "bigquery":
        extra = ["--udf-library", "gs://veil/slim", "--udfs", ROOT / "dist" / "js" / "slim"]
    else:
        extra = ["--module", ROOT / "dist" / "singlestore"]
    veil("bind", "--engine", target, *project_args(built), *extra, "-o", out)
    sql = out.read_text()
    if target == "bigquery":
        stmts, prefix, reader = statements(sql, "bigquery"), "CREATE OR REPLACE VIEW", "veil_reader()"
    else:
        stmts, prefix, reader = singlestore_statements(sql)[0], "CREATE VIEW", "veil_session_user()"
    views = {}
    for stmt in stmts:
        if stmt.startswith(prefix):
            tree = sqlglot.parse_one(stmt.replace("SESSION_USER()", reader), read=target).transform(bytewise)
            # DuckDB's decimals stop at 38 digits (SingleStore's exact detour is 65).
            views[tree.this.name] = tree.expression.sql(dialect="duckdb").replace("DECIMAL(65, 20)", "DECIMAL(38, 20)")
    return views


def text(v) -> str:
    # DuckDB's DATE_TRUNC of a DATE is a TIMESTAMP at midnight, BigQuery's a DATE:
    # both sides read midnight as the date alone.
    if isinstance(v, datetime.datetime) and v.time() == datetime.time(0):
        return str(v.date())
    return str(v)


REFUSED = ("refused",)


def rows(con, reader, sql, project):
    """The rows a reader sees, or REFUSED (veil's refusal); any other error is
    kept as its text."""
    try:
        got = as_reader(con, reader, sql, project)
    except duckdb.Error as e:
        return REFUSED if "may not read" in str(e) else ("error", str(e))
    return Counter(tuple(sorted((k, text(v)) for k, v in r.items())) for r in got)


def shop_tables(args) -> list:
    """`--source` for every data source of the dbt project that is not a dbt view."""
    import json
    manifest = json.loads((Path(args[args.index("--dbt-target") + 1]) / "manifest.json").read_text())
    out = []
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "view":
            out += ["--source", f"{node['schema']}.{node.get('alias') or node['name']}"]
    for source in manifest["sources"].values():
        out += ["--source", f"{source['schema']}.{source['identifier']}"]
    return out


def policy_views(target: str, policies, tmp_path, con) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Per table (by relation name): a DuckDB query applying its column masks and
    row policy (Snowflake's or Databricks'); and the readers granted SELECT on it."""
    import re
    import sys

    sys_path = str(ROOT / "tests" / "warehouses")
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from test_sql import statements

    out = tmp_path / f"{target}.sql"
    # Unity Catalog attaches nothing to a view (veil refuses them): Databricks binds the tables.
    tables = shop_tables(policies) if target == "databricks" else []
    veil("bind", "--engine", target, *policies, *tables, "--udfs", ROOT / "dist" / "js" / "slim", "-o", out)
    RELATION = "(?:TABLE|VIEW|MATERIALIZED VIEW)"
    if target == "snowflake":
        q, reader_call = '"', "CURRENT_USER()"
        ident = r'"(?:[^"]|"")+"'
        policy = re.compile(
            rf"CREATE (?:MASKING|ROW ACCESS) POLICY IF NOT EXISTS ((?:{ident}\.)?{ident}\.{ident}) AS \((.*?)\)\n"
            r"RETURNS [A-Z0-9_(),]+ ->\n(.*)$",
            re.S,
        )
        mask = re.compile(
            rf"ALTER {RELATION} (?:{ident}\.)?({ident})\.({ident}) MODIFY COLUMN ({ident}) SET MASKING POLICY ((?:{ident}\.)?{ident}\.{ident})"
            r"(?: USING \((.*)\))? FORCE$"
        )
        rows = re.compile(rf"ALTER {RELATION} (?:{ident}\.)?({ident})\.({ident}) ADD ROW ACCESS POLICY ((?:{ident}\.)?{ident}\.{ident}) ON \((.*)\)$")
        grant = re.compile(rf'GRANT SELECT ON {RELATION} (?:{ident}\.)?({ident})\.({ident}) TO ROLE "reader:(.*)"$')
    else:
        q, reader_call = "`", "current_user()"
        ident = r"`(?:[^`]|``)+`"
        policy = re.compile(rf"CREATE FUNCTION IF NOT EXISTS ((?:{ident}\.)?{ident}\.{ident})\((.*?)\)\nRETURNS [A-Z0-9_(),]+\nRETURN (.*)$", re.S)
        mask = re.compile(
            rf"ALTER {RELATION} (?:{ident}\.)?({ident})\.({ident}) ALTER COLUMN ({ident}) SET MASK ((?:{ident}\.)?{ident}\.{ident})"
            rf"(?: USING COLUMNS \((.*)\))?()$"
        )
        rows = re.compile(rf"ALTER {RELATION} (?:{ident}\.)?({ident})\.({ident}) SET ROW FILTER ((?:{ident}\.)?{ident}\.{ident}) ON \((.*)\)$")
        grant = re.compile(rf"GRANT SELECT ON {RELATION} (?:{ident}\.)?({ident})\.({ident}) TO `(.*)`$")

    def unquote(name: str) -> str:
        return name[1:-1].replace(q + q, q) if name.startswith(q) else name

    def columns_of(text: str) -> list[str]:
        return [unquote(c.strip()) for c in text.split(",")] if text.strip() else []

    policies, masks, filters, grants = {}, {}, {}, {}
    for stmt in statements(out.read_text(), target):
        if m := policy.match(stmt):
            args = [a.strip().split(" ")[0] for a in re.split(r",(?![^(]*\))", m[2]) if a.strip()]
            policies[m[1]] = ([unquote(a) for a in args], m[3])
        elif m := mask.match(stmt):
            column = unquote(m[3])
            if target == "snowflake":
                using = columns_of(m[5]) if m[5] else [column]
            else:
                using = [column, *columns_of(m[5] or "")]
            masks.setdefault(unquote(m[2]), {})[column] = (m[4], using)
        elif m := rows.match(stmt):
            filters[unquote(m[2])] = (m[3], columns_of(m[4]))
        elif m := grant.match(stmt):
            grants.setdefault(unquote(m[2]), set()).add(m[3])

    def bound(name, columns):
        args, body = policies[name]
        names = dict(zip(args, columns))
        tree = sqlglot.parse_one(body.replace(reader_call, "veil_reader()"), read=target)

        def bind(node):
            if isinstance(node, exp.Column) and not node.table and node.name in names:
                return exp.column(names[node.name], quoted=True)
            return node

        sql = tree.transform(bind).sql(dialect="duckdb")
        # Spark's octet_length counts a string's UTF-8 bytes; DuckDB's takes a BLOB.
        return sql.replace("OCTET_LENGTH(VEIL_READER())", "OCTET_LENGTH(ENCODE(VEIL_READER()))")

    tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    views = {}
    for table, (name, on) in filters.items():
        schema = next(s for s, t in tables if t == table and s not in ("secure", "veil", *TARGETS))
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position", [schema, table]).fetchall()]
        select = []
        for c in columns:
            if c in masks.get(table, {}):
                p, using = masks[table][c]
                select.append(f'{bound(p, using)} AS "{c}"')
            else:
                select.append(f'"{c}"')
        views[table] = f'SELECT {", ".join(select)} FROM "{schema}"."{table}" WHERE {bound(name, on)}'
    return views, grants


TARGETS = ("bigquery", "singlestore", "snowflake", "databricks")


@pytest.fixture(scope="module")
def applied_databricks(built, tmp_path_factory):
    """The built shop with DuckDB's views of the Databricks fixture's policies."""
    database = tmp_path_factory.mktemp("applied-databricks") / "shop.duckdb"
    shutil.copy(built / "target" / "shop.duckdb", database)
    args = project_args(built)
    args[args.index("--policies") + 1] = DATABRICKS_POLICIES
    veil("apply", *args, *engine_args(database))
    return database, args


@pytest.fixture(scope="module", params=TARGETS)
def parity(request, built, applied, tmp_path_factory):
    target = request.param
    tmp = tmp_path_factory.mktemp(target)
    grants = None
    if target == "databricks":
        database, args = request.getfixturevalue("applied_databricks")
        con = connect(database)
        con.create_function(
            "hmac",
            lambda key, message: hmac.new(key, message, hashlib.sha256).digest(),
            [duckdb.sqltypes.BLOB, duckdb.sqltypes.BLOB],
            duckdb.sqltypes.BLOB,
        )
        con.execute(KEYS)
        views, grants = policy_views(target, args, tmp, con)
    elif target == "snowflake":
        con = connect(applied)
        views, grants = policy_views(target, project_args(built), tmp, con)
    else:
        con = connect(applied)
        views = translated_views(target, built, tmp)
    udfs = {
        "bigquery": BIGQUERY_UDFS,
        "singlestore": SINGLESTORE_UDFS,
        "snowflake": BIGQUERY_UDFS + SNOWFLAKE_UDFS,
        "databricks": DATABRICKS_UDFS,
    }
    for sql in [KEYS, *udfs[target]]:
        con.execute(sql)
    for name, query in views.items():
        con.execute(f'CREATE OR REPLACE VIEW {target}."{name}" AS {query}')
    yield target, con, views, grants
    con.close()


def test_views_show_each_reader_what_duckdb_shows(parity):
    target, con, views, grants = parity
    assert {"customers", "orders", "payments", "employees"} <= set(views)
    compared = refused = 0
    for name in sorted(views):
        for reader in READERS:
            # Both read "acting under a project" as membership: compare with DuckDB
            # acting under the reader's one project (erin's).
            project = "growth_dashboard" if reader == "erin" else None
            duck = rows(con, reader, f'SELECT * FROM secure."{name}"', project)
            if grants is not None and reader not in grants.get(name, set()):
                theirs = REFUSED  # no SELECT grant on the table
            else:
                theirs = rows(con, reader, f'SELECT * FROM {target}."{name}"', project)
            assert theirs == duck, f"{reader} reading {name}: {target} view {theirs} vs DuckDB view {duck}"
            compared += 1
            refused += duck == REFUSED
    assert compared >= 4 * len(READERS) and refused >= len(views), (compared, refused)
