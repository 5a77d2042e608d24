//! Warehouse bindings of the example shop (Snowflake, Databricks, BigQuery): golden
//! SQL with stand-ins for the UDF bundles, refusals naming policy and column, and
//! no key material anywhere. tests/warehouses parses the SQL and runs the UDFs.
#![allow(clippy::unwrap_used)]

mod common;

use common::{options, root, shop};
use veil_host::targets::snowflake;
use veil_host::targets::warehouse::Udfs;
use veil_host::{BindOptions, Mode};

fn no_keys(sql: &str) {
    let keyring = std::fs::read_to_string(root().join("examples/shop/keyring.txt")).unwrap();
    for line in keyring.lines().filter_map(|l| l.split_once('=')) {
        assert!(!sql.contains(line.1.trim()), "key material in SQL");
    }
}

#[test]
fn snowflake_golden() {
    let engine = shop(&root().join("examples/shop/policies"));
    let sql = snowflake::bind(&engine, &options(), &Udfs::placeholders(), &[]).unwrap().to_sql();
    no_keys(&sql);
    insta::assert_snapshot!("snowflake", sql);
}

#[test]
fn snowflake_refuses_one_reader_views() {
    let engine = shop(&root().join("examples/shop/policies"));
    let options = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(snowflake::bind(&engine, &options, &Udfs::placeholders(), &[]).is_err());
}

/// Masks each warehouse (and PostgreSQL) writes in plain SQL (date truncation,
/// rounding, reveal, e-mail), over a column `v`, for the parameters of the shared
/// vectors: tests/warehouses/test_sql_masks.py runs the warehouses' (translated
/// to DuckDB by sqlglot), tests/postgres runs PostgreSQL's on a live server, on
/// the vectors' values, and both compare with veil-core.
#[test]
fn sql_masks_per_warehouse() {
    use veil_host::targets::bigquery::BigQuery;
    use veil_host::targets::databricks::Databricks;
    use veil_host::targets::singlestore::SingleStore;
    use veil_host::targets::snowflake::Snowflake;
    use veil_host::targets::{MaskContext, Reader, Target};
    use veil_policy::{ColumnType, Keep, Mask, Rounding, TimeUnit};
    let engine = shop(&root().join("examples/shop/policies"));
    let targets: [(&str, Box<dyn Target>); 5] = [
        ("snowflake", Box::new(Snowflake::new(&engine, "k1"))),
        ("databricks", Box::new(Databricks::new(&engine, "k1"))),
        ("bigquery", Box::new(BigQuery::new("k1"))),
        ("singlestore", Box::new(SingleStore::new("k1"))),
        ("postgres", Box::new(veil_host::targets::Postgres)),
    ];
    let units = [
        ("minute", TimeUnit::Minute),
        ("hour", TimeUnit::Hour),
        ("day", TimeUnit::Day),
        ("month", TimeUnit::Month),
        ("quarter", TimeUnit::Quarter),
        ("year", TimeUnit::Year),
    ];
    let decimal = ColumnType::Decimal { precision: 12, scale: 5 };
    let mut cases: Vec<(String, String, ColumnType, Mask)> = Vec::new();
    for (name, unit) in units {
        cases.push(("trunc_date".into(), name.into(), ColumnType::Date, Mask::Trunc { unit }));
        cases.push(("trunc_timestamp".into(), name.into(), ColumnType::Timestamp, Mask::Trunc { unit }));
    }
    for w in [10, 1] {
        let mask = Mask::Round { rounding: Rounding::Width(f64::from(w)) };
        cases.push(("round_int".into(), w.to_string(), ColumnType::Integer, mask));
    }
    for p in [2, -2, 0] {
        cases.push((
            "round_places".into(),
            p.to_string(),
            decimal.clone(),
            Mask::Round { rounding: Rounding::Places(p) },
        ));
    }
    for (name, n, keep) in [("reveal_first", 3, Keep::First(3)), ("reveal_last", 4, Keep::Last(4))] {
        for fill in ['X', '*'] {
            cases.push((name.into(), format!("{n} {fill}"), ColumnType::Text, Mask::Reveal { keep, fill }));
        }
    }
    cases.push(("mask_email".into(), String::new(), ColumnType::Text, Mask::Email));
    let mut lines = Vec::new();
    for (target, t) in &targets {
        for (function, param, ty, mask) in &cases {
            let ctx = MaskContext {
                source: "s.t",
                column: "v",
                policy: "vectors",
                key_id: "k1",
                column_type: ty,
                reader: Reader::Dynamic,
            };
            let sql = t.mask(mask, "v", &ctx).unwrap();
            lines.push(format!("{target}\t{function}\t{param}\t{sql}"));
        }
    }
    insta::assert_snapshot!("sql_masks", lines.join("\n"));
}

/// Every target refuses a sample percent outside 0–100 at bind time (100 and
/// above is not "everything": 150 is a mistake), and keeps all rows at exactly 100
/// or calls its sampler.
#[test]
fn sample_percent_is_checked_by_every_target() {
    use veil_host::targets::bigquery::BigQuery;
    use veil_host::targets::databricks::Databricks;
    use veil_host::targets::singlestore::SingleStore;
    use veil_host::targets::snowflake::Snowflake;
    use veil_host::targets::{DuckDb, MaskContext, Postgres, Reader, Target};
    use veil_host::Error;
    use veil_policy::{ColumnType, RowPredicate};
    let engine = shop(&root().join("examples/shop/policies"));
    let targets: [Box<dyn Target>; 6] = [
        Box::new(DuckDb { extension: None }),
        Box::new(Postgres),
        Box::new(Snowflake::new(&engine, "k1")),
        Box::new(Databricks::new(&engine, "k1")),
        Box::new(BigQuery::new("k1")),
        Box::new(SingleStore::new("k1")),
    ];
    let ctx = MaskContext {
        source: "s.t",
        column: "",
        policy: "pk",
        key_id: "k1",
        column_type: &ColumnType::Text,
        reader: Reader::Dynamic,
    };
    for t in &targets {
        for bad in [150.0, -1.0, f64::NAN] {
            let sample = RowPredicate::Sample { percent: bad, key: vec!["a".into(), "b".into()] };
            let err = t.row_predicate(&sample, &ctx).unwrap_err();
            assert!(matches!(&err, Error::Invalid(m) if m.contains("policy `pk`")), "{}: {err}", t.name());
        }
        // Names that need quoting everywhere (policy arguments stay plain only when plain).
        let half = RowPredicate::Sample { percent: 50.0, key: vec!["a x".into(), "b-y".into()] };
        let sql = t.row_predicate(&half, &ctx).unwrap();
        let both = sql.contains(&t.quote_ident("a x")) && sql.contains(&t.quote_ident("b-y"));
        assert!(both && sql.contains("'|'"), "{sql}");
    }
}
