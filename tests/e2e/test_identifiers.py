"""Identifiers round-trip: relations and columns with dots, quotes, backticks, spaces,
case, non-ASCII and reserved words are read as exactly that relation and column by every
target. Random names (seeded; VEIL_IDENT_SEED and VEIL_IDENT_CASES for longer runs) plus
a fixed set of nasty ones.

DuckDB: the tables are created, veil applies, and each secure view must show its own
table's marker (every table holds a different one; decoys sit where a split name would
land) with the secret column masked. Warehouses: every statement is parsed back by
sqlglot in the target's dialect, and every base relation it names must be exactly one of
the catalog's (database, schema, identifier)."""
import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from conftest import ROOT, as_reader, connect, engine_args, veil
from identifiers_gen import POLICIES, catalog, relations


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = tmp_path_factory.mktemp("identifiers")
    rels = relations()
    (work / "catalog.yaml").write_text(catalog(rels), encoding="utf-8")
    (work / "policies.yaml").write_text(POLICIES)
    (work / "users.yaml").write_text("users:\n  - {name: kim}\n")
    args = ["--policies", work / "policies.yaml", "--users", work / "users.yaml", "--catalog", work / "catalog.yaml"]
    return work, rels, args


def q(name):
    return '"' + name.replace('"', '""') + '"'


def test_duckdb_views_read_exactly_their_relation_and_column(project):
    work, rels, args = project
    database = work / "ids.duckdb"
    c = duckdb.connect(str(database))
    made = set()
    for i, (_, schema, table, column) in enumerate(rels):
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
        c.execute(f"CREATE TABLE {q(schema)}.{q(table)} (marker VARCHAR, {q(column)} VARCHAR)")
        c.execute(f"INSERT INTO {q(schema)}.{q(table)} VALUES (?, ?)", [f"marker-{i}", f"secret-{i}"])
        made.add((schema.lower(), table.lower()))
    # Decoys where a name split at its dots would land.
    for schema, table in {(s, t.rsplit(".", 1)[1]) for _, s, t, _ in rels if "." in t}:
        if (schema.lower(), table.lower()) not in made:
            c.execute(f"CREATE TABLE {q(schema)}.{q(table)} (marker VARCHAR, x VARCHAR)")
            c.execute(f"INSERT INTO {q(schema)}.{q(table)} VALUES ('decoy', 'decoy')")
    c.close()
    veil("apply", *args, *engine_args(database))
    con = connect(database)
    for i, (_, schema, table, column) in enumerate(rels):
        rows = as_reader(con, "kim", f"SELECT * FROM secure.{q(table)}")
        assert rows == [{"marker": f"marker-{i}", column: None}], (schema, table, column, rows)
    con.close()
    verified = veil("verify", *args, *engine_args(database), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def chain_after(tokens, i):
    """The dotted identifier chain starting at token i, unquoted."""
    parts = []
    while i < len(tokens):
        parts.append(tokens[i].text)
        if i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.DOT:
            i += 2
        else:
            break
    return tuple(parts)


def base_references(sql, dialect, facts=("veil", "secure")):
    """Every relation a script names outside veil's own schemas, as parsed back."""
    d = sqlglot.Dialect.get_or_raise(dialect)
    found = []
    tokens = d.tokenize(sql)
    statements, begin = [], 0
    for t in tokens:
        if t.token_type == TokenType.SEMICOLON:
            statements.append(sql[begin:t.start])
            begin = t.end + 1
    for stmt in statements:
        if not stmt.strip() or stmt.strip().startswith("--"):
            continue
        try:
            tree = sqlglot.parse_one(stmt, read=dialect)
        except sqlglot.errors.ParseError:
            tree = None
        if tree is not None and not isinstance(tree, exp.Command):
            for table in tree.find_all(exp.Table):
                found.append(tuple(p.name for p in table.parts))
        else:
            # Opaque DDL (ALTER TABLE … SET MASK, GRANT … ON TABLE): the chain after TABLE / ON.
            toks = d.tokenize(stmt)
            for j, tok in enumerate(toks):
                if tok.text.upper() == "TABLE" and j + 1 < len(toks):
                    found.append(chain_after(toks, j + 1))
    # veil's own: a schema of its (`veil`, `db.veil`) or a relation in one.
    return [f for f in found if f and f[0] not in facts and not set(f[-2:]) & set(facts)]


def bigquery_can_name(rel):
    """BigQuery reads a dot in backticks as a path separator."""
    return all("." not in n for n in rel)


def bind(args, tmp_path, target):
    out = tmp_path / f"{target}.sql"
    # The sources span many databases: veil's own schemas go in the one named.
    database = [] if target == "singlestore" else ["--database", "GOV"]
    result = veil("bind", *args, "--engine", target, "--udfs", ROOT / "dist/js/slim",
                  "--module", ROOT / "dist/singlestore", *database, "-o", out, check=False)
    return result, out


@pytest.mark.parametrize("target,dialect", [
    ("snowflake", "snowflake"), ("databricks", "databricks"), ("bigquery", "bigquery"), ("singlestore", "singlestore"),
])
def test_warehouse_statements_name_exactly_the_catalog_relations(project, tmp_path, target, dialect):
    work, rels, args = project
    if target == "bigquery":
        # Names BigQuery would read as other names are refused, naming the source.
        result, _ = bind(args, tmp_path, target)
        assert result.returncode != 0 and "BigQuery cannot name" in result.stderr, result.stderr
        rels = [r for r in rels if bigquery_can_name(r)]
        assert len(rels) >= 3, "too few BigQuery-valid names to test"
        (tmp_path / "catalog.yaml").write_text(catalog(rels), encoding="utf-8")
        args = [*args[:-1], tmp_path / "catalog.yaml"]
    result, out = bind(args, tmp_path, target)
    assert result.returncode == 0, result.stderr
    sql = out.read_text(encoding="utf-8")
    if target == "singlestore":
        sql = sql.replace("DELIMITER //", "").replace("END //\nDELIMITER ;", "END;")
    refs = base_references(sql, dialect)
    # Warehouses with databases name them; SingleStore's databases are veil's schemas.
    expected = {(s, t) if target == "singlestore" else (d, s, t) for d, s, t, _ in rels}
    assert refs, "no base relation found"
    wrong = [r for r in refs if r not in expected]
    assert not wrong, f"{target} names relations that are not in the catalog: {wrong[:5]}"
    assert expected <= set(refs), f"{target} never names {sorted(expected - set(refs))[:5]}"
