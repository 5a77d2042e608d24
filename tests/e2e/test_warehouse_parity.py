"""The BigQuery and SingleStore targets' secure views, and the Snowflake target's
policies on the base tables, read as each reader, must show what the DuckDB
target's views show. The SQL `veil bind --target bigquery`
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
the reader acts under project p."""
import datetime
from collections import Counter

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from conftest import ROOT, as_reader, connect, project_args, veil

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
        extra = ["--udf-library", "gs://veil/slim"]
    else:
        extra = ["--module", ROOT / "dist" / "singlestore"]
    veil("bind", "--target", target, *project_args(built), *extra, "-o", out)
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


NOTHING = ("refused or no rows",)


def rows(con, reader, sql, project):
    """The rows a reader sees; refused and empty alike are NOTHING (an engine may
    skip the refusal when another filter already keeps no row: fail closed
    either way). Any other error is kept as its text."""
    try:
        got = as_reader(con, reader, sql, project)
    except duckdb.Error as e:
        return NOTHING if "may not read" in str(e) else ("error", str(e))
    if not got:
        return NOTHING
    return Counter(tuple(sorted((k, text(v)) for k, v in r.items())) for r in got)


def snowflake_views(built, tmp_path, con) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Per table (by relation name): a DuckDB query applying its masking and row
    access policies; and the readers its SELECT grant goes to."""
    import re
    import sys

    sys_path = str(ROOT / "tests" / "warehouses")
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from test_sql import statements

    out = tmp_path / "snowflake.sql"
    veil("bind", "--target", "snowflake", *project_args(built), "--udfs", ROOT / "dist" / "js" / "slim", "-o", out)
    ident = r'"(?:[^"]|"")+"'
    policy = re.compile(rf"CREATE (?:MASKING|ROW ACCESS) POLICY IF NOT EXISTS ({ident}\.{ident}) AS \((.*?)\)\nRETURNS [A-Z0-9_(),]+ ->\n(.*)$", re.S)
    mask = re.compile(rf"ALTER TABLE ({ident})\.({ident}) MODIFY COLUMN ({ident}) SET MASKING POLICY ({ident}\.{ident})(?: USING \((.*)\))? FORCE$")
    rows = re.compile(rf"ALTER TABLE ({ident})\.({ident}) ADD ROW ACCESS POLICY ({ident}\.{ident}) ON \((.*)\)$")
    grant = re.compile(rf'GRANT SELECT ON TABLE ({ident})\.({ident}) TO ROLE "reader:(.*)"$')
    unquote = lambda q: q[1:-1].replace('""', '"')
    policies, masks, filters, grants = {}, {}, {}, {}
    for stmt in statements(out.read_text(), "snowflake"):
        if m := policy.match(stmt):
            args = [a.strip().split(" ")[0] for a in re.split(r",(?![^(]*\))", m[2])]
            policies[m[1]] = ([unquote(a) if a.startswith('"') else a for a in args], m[3])
        elif m := mask.match(stmt):
            using = [unquote(c.strip()) for c in m[5].split(",")] if m[5] else [unquote(m[3])]
            masks.setdefault(unquote(m[2]), {})[unquote(m[3])] = (m[4], using)
        elif m := rows.match(stmt):
            filters[unquote(m[2])] = (m[3], [unquote(c.strip()) for c in m[4].split(",")])
        elif m := grant.match(stmt):
            grants.setdefault(unquote(m[2]), set()).add(m[3])

    def bound(name, columns):
        args, body = policies[name]
        names = dict(zip(args, columns))
        tree = sqlglot.parse_one(body.replace("CURRENT_USER()", "veil_reader()"), read="snowflake")

        def bind(node):
            if isinstance(node, exp.Column) and not node.table and node.name in names:
                return exp.column(names[node.name], quoted=True)
            return node

        return tree.transform(bind).sql(dialect="duckdb")

    views = {}
    for table, (name, on) in filters.items():
        schema = next(
            s
            for s, t in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
            if t == table and s not in ("secure", "veil", "bigquery", "singlestore", "snowflake")
        )
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


@pytest.fixture(scope="module", params=["bigquery", "singlestore", "snowflake"])
def parity(request, built, applied, tmp_path_factory):
    target = request.param
    con = connect(applied)
    grants = None
    if target == "snowflake":
        views, grants = snowflake_views(built, tmp_path_factory.mktemp(target), con)
    else:
        views = translated_views(target, built, tmp_path_factory.mktemp(target))
    udfs = {"bigquery": BIGQUERY_UDFS, "singlestore": SINGLESTORE_UDFS, "snowflake": BIGQUERY_UDFS + SNOWFLAKE_UDFS}
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
                theirs = NOTHING  # no SELECT grant on the table
            else:
                theirs = rows(con, reader, f'SELECT * FROM {target}."{name}"', project)
            assert theirs == duck, f"{reader} reading {name}: {target} view {theirs} vs DuckDB view {duck}"
            compared += 1
            refused += duck == NOTHING
    assert compared >= 4 * len(READERS) and refused >= len(views), (compared, refused)
