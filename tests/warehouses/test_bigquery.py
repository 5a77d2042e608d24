"""BigQuery bindings: every statement parses with sqlglot's BigQuery dialect into a
real syntax tree (views, JS UDFs, grants included), hostile names stay inside their
quotes, the UDFs load the slim bundles as library files, and no key is in the SQL.
tests/warehouses/udfs.test.mjs runs the UDF bodies in node."""
import re

import sqlglot
from sqlglot import exp

from conftest import BIGQUERY_LIBRARY, ROOT, snapshot
from test_sql import parse_expr, statements


def check(stmt: str) -> str:
    parsed = sqlglot.parse_one(stmt, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    assert not isinstance(parsed, exp.Command), f"unparsed statement:\n{stmt[:400]}"
    if isinstance(parsed, exp.Create) and parsed.kind == "VIEW":
        assert isinstance(parsed.expression, exp.Select), stmt[:400]
    return type(parsed).__name__


def test_every_bigquery_statement_parses(bigquery_sql):
    stmts = statements(bigquery_sql, "bigquery")
    kinds = [check(s) for s in stmts]
    assert len(stmts) > 40
    assert sum(s.startswith("CREATE OR REPLACE VIEW") for s in stmts) >= 4
    assert sum(s.startswith("CREATE OR REPLACE FUNCTION") for s in stmts) == 4
    assert kinds.count("Grant") >= 10 and kinds.count("Revoke") >= 3


def test_bigquery_udfs_inline_the_hash_and_load_the_other_bundles_as_libraries(bigquery_sql):
    inline = 0
    for stmt in statements(bigquery_sql, "bigquery"):
        if not stmt.startswith("CREATE OR REPLACE FUNCTION"):
            continue
        tree = sqlglot.parse_one(stmt, read="bigquery")
        libraries = [l.this for l in tree.find_all(exp.Literal) if l.is_string and l.this.startswith("gs://")]
        # The whole statement, body included, stays under BigQuery's 32 KB of inline code.
        assert len(stmt.encode()) < 32_000, f"{len(stmt.encode())} bytes: {stmt[:200]}"
        if "`veil`.`veil_hash`" in stmt:
            # The keyed hash carries the canonical-ABI hash bundle, byte for byte.
            bundle = (ROOT / "dist/js/slim/veil-hash-core.inline.js").read_text().rstrip()
            assert not libraries and bundle in stmt, stmt[:300]
            inline += 1
            continue
        assert len(libraries) == 1 and libraries[0].startswith(BIGQUERY_LIBRARY + "/veil-"), stmt[:300]
        bundle = ROOT / "dist/js/slim" / libraries[0].rsplit("/", 1)[1]
        size = bundle.stat().st_size
        # Over the 32 KB inline limit (hence a library), under the 1 MB library limit.
        assert 32_000 < size < 1_000_000, f"{bundle.name}: {size} bytes"
    assert inline == 1


def test_bigquery_sql_holds_no_key_material(bigquery_sql):
    keyring = (ROOT / "examples/shop/keyring.txt").read_text()
    for line in keyring.splitlines():
        if "=" in line:
            assert line.split("=", 1)[1].strip() not in bigquery_sql


def test_hostile_names_stay_quoted():
    stmts = statements(snapshot("bigquery__bigquery_hostile"), "bigquery")
    for s in stmts:
        check(s)
    view = next(s for s in stmts if s.startswith("CREATE OR REPLACE VIEW"))
    tree = sqlglot.parse_one(view, read="bigquery")
    literals = {l.this for l in tree.find_all(exp.Literal) if l.is_string}
    assert "a'b\\c`\n" in literals and "G`'\\" in literals
    names = {i.this for i in tree.find_all(exp.Identifier)}
    assert "c`'\\\n" in names and "s`x" in names and "t'y" in names
    grant = next(s for s in stmts if s.startswith("GRANT"))
    principals = [p.name for p in sqlglot.parse_one(grant, read="bigquery").find_all(exp.GrantPrincipal)]
    assert principals == ["user:o'brien\\"], principals


BQ_IDENT = r"`(?:[^`\\]|\\.)+`"
BQ_LIT = r"'(?:[^'\\]|\\.)*'"
ROW_POLICY = re.compile(
    rf"CREATE OR REPLACE ROW ACCESS POLICY `veil_(?:readers|unfiltered)` ON {BQ_IDENT}(?:\.{BQ_IDENT}){{1,2}}\n"
    rf"GRANT TO \((?P<grantees>{BQ_LIT}(?:, {BQ_LIT})*)\)\nFILTER USING \((?P<filter>.*)\)$",
    re.S,
)
DROP_ROW_POLICY = re.compile(rf"DROP ROW ACCESS POLICY IF EXISTS `veil_(?:readers|unfiltered)` ON {BQ_IDENT}(?:\.{BQ_IDENT}){{1,2}}$")


def test_row_access_policies_have_their_exact_shape_and_filters_parse():
    """sqlglot keeps row access policy DDL opaque: the exact shape, then the filter
    parsed as a BigQuery expression and the grantees as string literals."""
    stmts = statements(snapshot("bigquery__bigquery_row_access_policies"), "bigquery")
    assert len(stmts) >= 5
    filters = []
    drops = [s for s in stmts if DROP_ROW_POLICY.match(s)]
    assert len(drops) == 1, "the hostile bind has no --rap-grantee: its unfiltered policy is dropped"
    for stmt in (s for s in stmts if s not in drops):
        m = ROW_POLICY.match(stmt)
        assert m, stmt[:300]
        parse_expr(m["filter"], "bigquery")
        grantees = sqlglot.parse_one(f"SELECT {m['grantees']}", read="bigquery").expressions
        assert all(g.this.split(":", 1)[0] in ("user", "serviceAccount") for g in grantees), m["grantees"]
        filters.append(m["filter"])
    assert "TRUE" in filters and any("SESSION_USER()" in f for f in filters)
