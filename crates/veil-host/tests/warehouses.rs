//! Warehouse bindings of the example shop (Snowflake, Databricks, BigQuery): golden
//! SQL with stand-ins for the UDF bundles, refusals naming policy and column, and
//! no key material anywhere. tests/warehouses parses the SQL and runs the UDFs.
#![allow(clippy::unwrap_used)]

mod common;

use common::{options, root, shop};
use veil_host::target::snowflake;
use veil_host::target::warehouse::Udfs;
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
    let sql = snowflake::bind(&engine, &options(), &Udfs::placeholders()).unwrap().to_sql();
    no_keys(&sql);
    insta::assert_snapshot!("snowflake", sql);
}

#[test]
fn snowflake_refuses_one_reader_views() {
    let engine = shop(&root().join("examples/shop/policies"));
    let options = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(snowflake::bind(&engine, &options, &Udfs::placeholders()).is_err());
}
