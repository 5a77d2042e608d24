//! PostgreSQL bindings of the example shop: the example's own policies are refused
//! (FF1 and reversible tokens have no faithful PostgreSQL equivalent), and the
//! variant in tests/postgres/policies (the same without them) is a golden snapshot.
#![allow(clippy::unwrap_used)]

mod common;

use common::{options, root, shop};
use veil_host::targets::postgres::{self, KeyScope};
use veil_host::{BindOptions, Error, Mode};

#[test]
fn the_example_is_refused_naming_policy_and_column() {
    let engine = shop(&root().join("examples/shop/policies"));
    let err = postgres::bind(&engine, &options()).unwrap_err();
    assert!(matches!(err, Error::Unsupported { target: "postgres", .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("policy `protect-customers`"), "{text}");
    assert!(text.contains("column `main.customers.phone`") || text.contains("column `main.customers.ssn`"), "{text}");
    assert!(text.contains("no faithful PostgreSQL equivalent"), "{text}");
}

#[test]
fn golden_bindings_of_the_variant() {
    let engine = shop(&root().join("tests/postgres/policies"));
    let sql = postgres::bind(&engine, &options()).unwrap().to_sql();
    insta::assert_snapshot!("postgres_dynamic", sql);
}

#[test]
fn generated_sql_names_key_ids_never_keys() {
    let engine = shop(&root().join("tests/postgres/policies"));
    let sql = postgres::bind(&engine, &options()).unwrap().to_sql();
    let keyring = std::fs::read_to_string(root().join("examples/shop/keyring.txt")).unwrap();
    for line in keyring.lines().filter_map(|l| l.split_once('=')) {
        assert!(!sql.contains(line.1.trim()), "key material in SQL");
    }
    assert!(!sql.contains("\\x"), "no bytea literals in SQL");
}

#[test]
fn keys_cover_every_source_and_project() {
    let engine = shop(&root().join("tests/postgres/policies"));
    let keys = postgres::key_scopes(&engine, &options()).unwrap();
    let has = |purpose: &str, scope: &str| {
        keys.contains(&KeyScope {
            purpose: if purpose == "hash" { "hash" } else { "sample" },
            scope: scope.into(),
            reader: None,
        })
    };
    assert!(has("hash", "source:main.customers"));
    assert!(has("sample", "source:main.orders"));
    assert!(has("hash", "project:growth_dashboard"));
    assert!(keys.iter().all(|k| k.reader.is_none()), "no per-reader hash in the example");
}

#[test]
fn views_for_one_reader_and_odd_names_are_refused() {
    let engine = shop(&root().join("tests/postgres/policies"));
    let one = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(matches!(postgres::bind(&engine, &one), Err(Error::Invalid(_))));
    let clash = BindOptions { secure_schema: "main".into(), ..options() };
    let err = postgres::bind(&engine, &clash).unwrap_err().to_string();
    assert!(err.contains("holds data source"), "{err}");
    let long = BindOptions { secure_schema: "s".repeat(64), ..options() };
    assert!(matches!(postgres::bind(&engine, &long), Err(Error::Invalid(_))));
}
