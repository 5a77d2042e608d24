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

/// Names and values made to break quoting: backticks, quotes, backslashes, newlines.
pub const HOSTILE_CATALOG: &str = "sources:\n  - name: \"s`x.t'y\"\n    database: \"p\"\n    schema: \"s`x\"\n    tags: [T]\n    columns:\n      - {name: \"c`'\\\\\\n\", type: text, tags: [C]}\n      - {name: \"r\", type: text}\n";
/// A reader with a hostile name, group and attribute.
pub const HOSTILE_USERS: &str =
    "users:\n  - {name: \"o'brien\\\\\", groups: [\"G`'\\\\\"], attributes: {\"k'\": [\"v\\\\'\\n\"]}}\n";
/// A hostile constant mask with a hostile exception, and a row filter on a hostile attribute.
pub const HOSTILE_POLICIES: &str = "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: m\ntype: data\nrules:\n  - {type: mask, columns: {tags: [C]}, mask: {type: constant, value: \"a'b\\\\c`\\n\"}, exceptFor: {groups: [\"G`'\\\\\"]}}\n  - {type: matchAttribute, attribute: \"k'\", column: r}\n";

/// The hostile catalog, reader and policies.
pub fn hostile() -> Engine {
    engine(HOSTILE_POLICIES, HOSTILE_USERS, HOSTILE_CATALOG)
}

/// Anyone may read `catalog`; one data policy (key `pk`) puts `mask` on columns tagged `tag`.
pub fn one_mask(catalog: &str, tag: &str, mask: &str) -> Engine {
    let policies = format!(
        "name: open\ntype: subscription\nactions: {{type: anyone}}\n---\nname: m\npolicyKey: pk\ntype: data\nrules:\n  - {{type: mask, columns: {{tags: [{tag}]}}, mask: {mask}}}\n"
    );
    engine(&policies, "users: [{name: u}]\n", catalog)
}
