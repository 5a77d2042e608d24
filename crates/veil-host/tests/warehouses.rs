//! Warehouse bindings of the example shop (Snowflake, Databricks, BigQuery): golden
//! SQL with stand-ins for the UDF bundles, refusals naming policy and column, and
//! no key material anywhere. tests/warehouses parses the SQL and runs the UDFs.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use veil_host::target::snowflake;
use veil_host::target::warehouse::Udfs;
use veil_host::{BindOptions, Mode};
use veil_policy::{Directory, Engine, PolicySet};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shop(policies: &Path) -> Engine {
    let artifacts = veil_dbt::load(root().join("crates/veil-dbt/tests/fixtures/shop")).unwrap();
    let policies = PolicySet::load(policies).unwrap();
    let mut users = Directory::load(root().join("examples/shop/users.yaml")).unwrap();
    for p in &artifacts.projects {
        users.add_project(&p.name, p.purposes.iter().cloned());
    }
    Engine::new(policies, users, artifacts.catalog).unwrap()
}

fn options() -> BindOptions {
    BindOptions {
        mode: Mode::Dynamic,
        key_id: "k1".into(),
        secure_schema: "secure".into(),
        sources: ["main.customers", "main.orders", "main.payments", "main.employees"].map(String::from).to_vec(),
    }
}

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
