"""SingleStore bindings: every statement parses with sqlglot's SingleStore dialect
into a real syntax tree (views, tables, grants), except two kinds sqlglot does not
model, matched by their exact shape: grants to `'user'@'host'` accounts,
`CREATE FUNCTION … AS WASM` (whose base64
must decode to the built module and WIT) and the procedural `veil_deny` inside a
`DELIMITER` block. Hostile names stay inside their quotes; no key in the SQL."""
import base64
import re

import sqlglot
from sqlglot import exp

from conftest import ROOT, snapshot
from test_sql import singlestore_statements as split

WASM = re.compile(
    r"CREATE OR REPLACE FUNCTION `veil`\.`(?P<name>veil_[a-z_]+)` AS WASM ABI CANONICAL "
    r"FROM BASE64 '(?P<wasm>[A-Za-z0-9+/=]+)' WITH WIT FROM BASE64 '(?P<wit>[A-Za-z0-9+/=]+)' "
    r"USING EXPORT '(?P<export>veil-[a-z-]+)'$"
)

IDENT = r"`(?:[^`]|``)+`"
LIT = r"'(?:[^'\\]|''|\\.)*'"
GRANT = re.compile(rf"GRANT SELECT ON {IDENT}\.{IDENT} TO {LIT}@'%'$")


def check(stmt: str) -> str:
    m = WASM.match(stmt)
    if m:
        assert m["export"] == m["name"].replace("_", "-"), stmt[:200]
        return "wasm"
    if GRANT.match(stmt):
        # sqlglot has no MySQL account names ('user'@'host'): the shape, then the
        # same grant to a plain role must parse as a real GRANT.
        plain = re.sub(rf"TO {LIT}@'%'$", "TO r", stmt)
        assert isinstance(sqlglot.parse_one(plain, read="singlestore"), exp.Grant), stmt
        return "Grant"
    parsed = sqlglot.parse_one(stmt, read="singlestore", error_level=sqlglot.ErrorLevel.RAISE)
    assert not isinstance(parsed, exp.Command), f"unparsed statement:\n{stmt[:400]}"
    if isinstance(parsed, exp.Create) and parsed.kind == "VIEW":
        assert isinstance(parsed.expression, exp.Select), stmt[:400]
    return type(parsed).__name__


def test_every_singlestore_statement_parses(singlestore_sql):
    stmts, blocks = split(singlestore_sql)
    assert blocks == 1
    kinds = [check(s) for s in stmts]
    assert kinds.count("wasm") == 5
    views = sum(s.startswith("CREATE VIEW") for s in stmts)
    assert views >= 4 and views == sum(s.startswith("DROP VIEW IF EXISTS") for s in stmts)
    assert kinds.count("Grant") >= 17


def test_singlestore_udfs_embed_the_built_module(singlestore_sql):
    exports = set()
    for stmt in split(singlestore_sql)[0]:
        m = WASM.match(stmt)
        if m:
            # The regex UDF embeds the full module; the others veil-lite (no regex engine).
            stem = "veil" if m["export"] == "veil-regex-replace" else "veil-lite"
            wasm = (ROOT / f"dist/singlestore/{stem}.wasm").read_bytes()
            wit = (ROOT / f"dist/singlestore/{stem}.wit").read_text()
            assert base64.b64decode(m["wasm"]) == wasm
            assert base64.b64decode(m["wit"]).decode() == wit
            exports.add(m["export"])
            assert f"{m['export']}: func(" in wit
    assert exports == {"veil-hash", "veil-fpe-encrypt", "veil-token-mask", "veil-in-sample", "veil-regex-replace"}


def test_singlestore_views_compare_readers_byte_for_byte(singlestore_sql):
    stmts, _ = split(singlestore_sql)
    orders = next(s for s in stmts if s.startswith("CREATE VIEW `secure`.`orders`"))
    tree = sqlglot.parse_one(orders, read="singlestore")
    # The reader is SESSION_USER() without its host; facts tables are binary-collated.
    assert "SESSION_USER()" in orders and "SUBSTRING_INDEX(SESSION_USER(), '@', -1)" in orders
    assert "BINARY (`region` :> TEXT)" in orders
    calls = {f.name for f in tree.find_all(exp.Anonymous)}
    assert {"veil_in_sample", "veil_deny"} <= calls, calls
    facts = [s for s in stmts if s.startswith("CREATE TABLE IF NOT EXISTS `veil`.")]
    assert len(facts) == 7
    for s in facts:
        for column in sqlglot.parse_one(s, read="singlestore").find_all(exp.ColumnDef):
            if column.name not in ("key_hex",):
                assert "utf8mb4_bin" in s, s


def test_singlestore_sql_holds_no_key_material(singlestore_sql):
    keyring = (ROOT / "examples/shop/keyring.txt").read_text()
    for line in keyring.splitlines():
        if "=" in line:
            assert line.split("=", 1)[1].strip() not in singlestore_sql


def test_hostile_names_stay_quoted():
    stmts, blocks = split(snapshot("singlestore__singlestore_hostile"))
    assert blocks == 1
    for s in stmts:
        check(s)
    view = next(s for s in stmts if s.startswith("CREATE VIEW"))
    tree = sqlglot.parse_one(view, read="singlestore")
    literals = {l.this for l in tree.find_all(exp.Literal) if l.is_string}
    assert "a'b\\c`\n" in literals and "G`'\\" in literals, literals
    names = {i.this for i in tree.find_all(exp.Identifier)}
    assert "c`'\\\n" in names and "s`x" in names and "t'y" in names
    grant = next(s for s in stmts if s.startswith("GRANT"))
    assert "'o''brien\\\\'@'%'" in grant
