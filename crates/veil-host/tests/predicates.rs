//! `where:` predicates printed per dialect: the literal and identifier matrix.
//! Each hostile string (quotes, backslashes, `%`/`_`, unicode, newlines) and a
//! hostile column name, printed by every target, in one snapshot that
//! tests/e2e/test_predicates.py evaluates: directly on DuckDB, and, for the
//! others, parsed by sqlglot in the target's dialect and run in DuckDB, each must
//! keep exactly the rows DuckDB keeps.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use veil_host::predicate::print;
use veil_host::targets::bigquery::BigQuery;
use veil_host::targets::databricks::Databricks;
use veil_host::targets::singlestore::SingleStore;
use veil_host::targets::snowflake::Snowflake;
use veil_host::targets::{DuckDb, Postgres, Target};
use veil_policy::sql::{parse_predicate, BinaryOp, Predicate};

/// The column every case reads: a name with quotes, a space and case (dotted
/// names: tests/e2e/test_identifiers.py; BigQuery refuses them).
pub const COLUMN: &str = "Note \"x\" Y";

/// Values a literal must stand for exactly.
pub const VALUES: &[&str] = &[
    "it's",
    "a''b",
    "back\\slash",
    "\\'",
    "trail\\",
    "%",
    "_",
    "50%_off",
    "naïve 中文 🙂",
    "line\nbreak",
    "tab\tchar",
    "\"dq\"",
    "`bt`",
    "$$",
    "-- not a comment",
    "/* nor this */",
    "",
];

fn col() -> Box<Predicate> {
    Box::new(Predicate::Column(COLUMN.into()))
}

fn text(s: &str) -> Box<Predicate> {
    Box::new(Predicate::Text(s.into()))
}

/// (case name, predicate): equality per value, an IN list, LIKE patterns, and
/// a clause written as a policy author would (parsed by veil-policy).
fn cases() -> Vec<(String, Predicate)> {
    let mut out: Vec<(String, Predicate)> = VALUES
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("eq{i}"), Predicate::Binary(col(), BinaryOp::Eq, text(v))))
        .collect();
    out.push((
        "in".into(),
        Predicate::InList(col(), vec![Predicate::Text("it's".into()), Predicate::Text("%".into())], false),
    ));
    for (i, pattern) in ["%'%", "_", "50%", "%中%", "a''%"].iter().enumerate() {
        out.push((
            format!("like{i}"),
            Predicate::Like { expr: col(), pattern: text(pattern), negated: false, case_insensitive: false },
        ));
    }
    out.push((
        "ilike".into(),
        Predicate::Like { expr: col(), pattern: text("IT'S"), negated: false, case_insensitive: true },
    ));
    let written = parse_predicate("length(n) > 3 and upper(n) <> 'X' or n is null").unwrap();
    out.push(("written".into(), written.tree.map_columns(&|_| COLUMN.to_owned())));
    out
}

#[test]
fn predicate_matrix() {
    let engine = common::engine(
        "name: open\ntype: subscription\nactions: {type: anyone}\n",
        "users: [{name: u}]\n",
        "sources: []\n",
    );
    let targets: Vec<(&str, Box<dyn Target>)> = vec![
        ("duckdb", Box::new(DuckDb::default())),
        ("postgres", Box::new(Postgres)),
        ("snowflake", Box::new(Snowflake::new(&engine, "k"))),
        ("databricks", Box::new(Databricks::new(&engine, "k"))),
        ("bigquery", Box::new(BigQuery::new("k"))),
        ("singlestore", Box::new(SingleStore::new("k"))),
    ];
    let mut lines = vec![serde_json::json!({"values": VALUES, "column": COLUMN}).to_string()];
    for (name, t) in &targets {
        for (case, p) in cases() {
            let sql = print(t.as_ref(), &p).unwrap();
            lines.push(
                serde_json::json!({"target": name, "case": case, "sql": sql, "column": t.predicate_column(COLUMN)})
                    .to_string(),
            );
        }
    }
    insta::assert_snapshot!("predicate_matrix", lines.join("\n"));
}
