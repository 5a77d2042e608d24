//! What the binding tests share: the example shop's engine and bind options.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};

use veil_host::{BindOptions, Mode};
use veil_policy::{Catalog, Directory, Engine, PolicySet};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example shop (dbt fixture, users) under the policies in `policies`.
pub fn shop(policies: &Path) -> Engine {
    let artifacts = veil_dbt::load(root().join("crates/veil-dbt/tests/fixtures/shop")).unwrap();
    let policies = PolicySet::load(policies).unwrap();
    let mut users = Directory::load(root().join("examples/shop/users.yaml")).unwrap();
    for p in &artifacts.projects {
        users.add_project(&p.name, p.purposes.iter().cloned());
    }
    Engine::new(policies, users, artifacts.catalog).unwrap()
}

/// Dynamic views of the shop's four sources under key id `k1`.
pub fn options() -> BindOptions {
    BindOptions {
        mode: Mode::Dynamic,
        key_id: "k1".into(),
        secure_schema: "secure".into(),
        sources: ["main.customers", "main.orders", "main.payments", "main.employees"].map(String::from).to_vec(),
    }
}

/// An engine from YAML texts.
pub fn engine(policies: &str, users: &str, catalog: &str) -> Engine {
    Engine::new(
        PolicySet::from_yaml_str(policies, "policies.yaml").unwrap(),
        Directory::from_yaml_str(users, "users.yaml").unwrap(),
        Catalog::from_yaml_str(catalog, "catalog.yaml").unwrap(),
    )
    .unwrap()
}
