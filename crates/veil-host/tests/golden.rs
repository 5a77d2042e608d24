//! Golden SQL for the example shop (its real dbt artifacts, policies and users):
//! any change to the generated bindings shows as a snapshot diff to review
//! (`cargo insta review`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use veil_host::targets::DuckDb;
use veil_host::{bind, BindOptions, Mode};
use veil_policy::{Directory, Engine, PolicySet};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shop() -> Engine {
    let artifacts = veil_dbt::load(root().join("crates/veil-dbt/tests/fixtures/shop")).unwrap();
    let policies = PolicySet::load(root().join("examples/shop/policies")).unwrap();
    let mut users = Directory::load(root().join("examples/shop/users.yaml")).unwrap();
    for p in &artifacts.projects {
        users.add_project(&p.name, p.purposes.iter().cloned());
    }
    Engine::new(policies, users, artifacts.catalog).unwrap()
}

fn options(mode: Mode) -> BindOptions {
    BindOptions {
        mode,
        key_id: "k1".into(),
        secure_schema: "secure".into(),
        sources: ["main.customers", "main.orders", "main.employees"].map(String::from).to_vec(),
    }
}

#[test]
fn dynamic_views() {
    let sql = bind(&shop(), &DuckDb::default(), &options(Mode::Dynamic)).unwrap().to_sql();
    insta::assert_snapshot!("duckdb_dynamic", sql);
}

#[test]
fn views_for_one_reader() {
    let mode = Mode::Reader { user: "carol".into(), project: None };
    let sql = bind(&shop(), &DuckDb::default(), &options(mode)).unwrap().to_sql();
    insta::assert_snapshot!("duckdb_reader_carol", sql);
    let mode = Mode::Reader { user: "dave".into(), project: None };
    let sql = bind(&shop(), &DuckDb::default(), &options(mode)).unwrap().to_sql();
    insta::assert_snapshot!("duckdb_reader_dave", sql);
}
