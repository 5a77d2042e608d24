"""Every generated statement parses with an independent parser (sqlglot) for its
dialect. Policy DDL that sqlglot keeps as an opaque `Command` is matched against
its exact shape, and every expression inside it (policy bodies, signatures) is
parsed on its own, so nothing reaches the warehouse unparsed."""
import re

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

IDENT = r'"(?:[^"]|"")+"'
QNAME = rf"{IDENT}(?:\.{IDENT}){{1,2}}"
# A base table: schema.table, or database.schema.table where the catalog names a database.
TNAME = rf"{IDENT}(?:\.{IDENT}){{1,2}}"
COLS = rf"{IDENT}(?:, {IDENT})*"


def statements(sql: str, dialect: str) -> list[str]:
    """Split a script on top-level semicolons, by sqlglot's tokenizer."""
    tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    out, start = [], 0
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            text = sql[start:tok.start].strip()
            if text:
                out.append(text)
            start = tok.end + 1
    assert not sql[start:].strip(), f"trailing text without `;`: {sql[start:][:200]}"
    return out


# The one procedural block of a SingleStore script (its body holds `;`).
SINGLESTORE_DENY = re.compile(
    r"DELIMITER //\nCREATE OR REPLACE FUNCTION `veil`\.`veil_deny`\(message TEXT\) RETURNS BOOL AS\n"
    r"BEGIN\n  RAISE user_exception\(message\);\n  RETURN FALSE;\nEND //\nDELIMITER ;\n"
)


def singlestore_statements(sql: str) -> tuple[list[str], int]:
    """A SingleStore script's statements, and how many procedural blocks (matched
    by their exact shape) were taken out first."""
    blocks = len(SINGLESTORE_DENY.findall(sql))
    return statements(SINGLESTORE_DENY.sub("", sql), "singlestore"), blocks


def parse_expr(text: str, dialect: str) -> None:
    sqlglot.parse_one(f"SELECT {text} AS x FROM t", read=dialect, error_level=sqlglot.ErrorLevel.RAISE)


def parse_signature(args: str, dialect: str) -> None:
    sqlglot.parse_one(f"CREATE TABLE t ({args})", read=dialect, error_level=sqlglot.ErrorLevel.RAISE)


# The relation kinds policies attach to (dbt tables, views, materialized views).
RELATION = r"(?:TABLE|VIEW|MATERIALIZED VIEW)"

SNOWFLAKE_SHAPES = [
    (re.compile(rf"CREATE ROLE IF NOT EXISTS {IDENT}$"), None),
    (re.compile(rf"GRANT ROLE {IDENT} TO USER {IDENT}$"), None),
    (re.compile(rf"ALTER {RELATION} {TNAME} DROP ALL ROW ACCESS POLICIES$"), None),
    (re.compile(rf"ALTER {RELATION} {TNAME} ADD ROW ACCESS POLICY {QNAME} ON \({COLS}\)$"), None),
    (re.compile(rf"ALTER {RELATION} {TNAME} MODIFY COLUMN {IDENT} SET MASKING POLICY {QNAME}(?: USING \({COLS}\))? FORCE$"), None),
    (re.compile(rf"CREATE (?:MASKING|ROW ACCESS) POLICY IF NOT EXISTS {QNAME} AS \((?P<args>.*?)\)\nRETURNS (?P<ret>[A-Z0-9_(),]+) ->\n(?P<body>.*)$", re.S), "policy"),
]


def check_snowflake(stmt: str) -> str:
    """Policy DDL sqlglot does not model: its exact shape, then its parts parsed.
    Everything else: sqlglot must parse it into a real syntax tree."""
    for shape, kind in SNOWFLAKE_SHAPES:
        m = shape.match(stmt)
        if m:
            if kind == "policy":
                parse_signature(m["args"], "snowflake")
                parse_expr(m["body"], "snowflake")
            return "shape"
    parsed = sqlglot.parse_one(stmt, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    assert not isinstance(parsed, exp.Command), f"unparsed statement:\n{stmt[:400]}"
    return type(parsed).__name__


def test_every_snowflake_statement_parses(snowflake_sql):
    stmts = statements(snowflake_sql, "snowflake")
    assert len(stmts) > 100
    kinds = [check_snowflake(s) for s in stmts]
    assert any("MASKING" in s for s in stmts) and any("ROW ACCESS POLICY IF" in s for s in stmts)
    assert kinds.count("Create") >= 10


def test_snowflake_statements_with_an_exempt_role_parse(tmp_path):
    """--exempt TRANSFORMER: every masking and row access policy names the role first."""
    from conftest import bind
    sql = bind("snowflake", tmp_path, extra=("--exempt", "TRANSFORMER"))
    stmts = statements(sql, "snowflake")
    for s in stmts:
        check_snowflake(s)
    bodies = [s for s in stmts if "POLICY IF NOT EXISTS" in s]
    assert bodies and all("IS_ROLE_IN_SESSION('TRANSFORMER')" in s for s in bodies)


def test_snowflake_sql_holds_no_key_material(snowflake_sql):
    from conftest import ROOT
    keyring = (ROOT / "examples/shop/keyring.txt").read_text()
    for line in keyring.splitlines():
        if "=" in line:
            assert line.split("=", 1)[1].strip() not in snowflake_sql


def test_snowflake_udf_bodies_fit():
    """Snowflake caps a JavaScript UDF's source at about 100 KB."""
    from conftest import ROOT
    for family in ("hash", "ff1", "token"):
        size = (ROOT / f"dist/js/slim/veil-{family}.inline.js").stat().st_size
        assert size < 100_000, f"veil-{family}.inline.js is {size} bytes"
