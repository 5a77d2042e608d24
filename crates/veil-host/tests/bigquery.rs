//! BigQuery bindings of the example shop: golden SQL, refusals naming policy and
//! column, hostile names and values escaped, no key material. tests/warehouses
//! parses the SQL (sqlglot, BigQuery dialect) and runs the JS UDFs in node.
#![allow(clippy::unwrap_used)]

mod common;

use common::{options, root, shop};
use veil_host::target::bigquery::{self, BigQuery};
use veil_host::target::Target;
use veil_host::{BindOptions, Error, Mode};
use veil_policy::{Catalog, Directory, Engine, PolicySet};

const LIBRARY: &str = "gs://veil-udfs/slim";

#[test]
fn bigquery_golden() {
    let sql = bigquery::bind(&shop(&root().join("examples/shop/policies")), &options(), LIBRARY).unwrap().to_sql();
    let keyring = std::fs::read_to_string(root().join("examples/shop/keyring.txt")).unwrap();
    for line in keyring.lines().filter_map(|l| l.split_once('=')) {
        assert!(!sql.contains(line.1.trim()), "key material in SQL");
    }
    insta::assert_snapshot!("bigquery", sql);
}

#[test]
fn bigquery_refuses_one_reader_views_and_odd_libraries() {
    let engine = shop(&root().join("examples/shop/policies"));
    let reader = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(bigquery::bind(&engine, &reader, LIBRARY).is_err());
    for bad in ["/local/dir", "gs://b/x'], y", "gs://b/../c", "https://x/y"] {
        assert!(matches!(bigquery::bind(&engine, &options(), bad), Err(Error::Invalid(_))), "{bad}");
    }
}

#[test]
fn bigquery_refusals_name_policy_and_column() {
    let catalog = "sources:\n  - name: s.t\n    schema: s\n    columns:\n      - {name: f, type: float, tags: [F]}\n      - {name: e, type: text, tags: [E]}\n";
    for (tag, mask, why) in
        [("F", "{type: round, width: 10}", "floating-point"), ("E", "{type: hash, scope: project}", "project-scoped")]
    {
        let policies = format!("name: open\ntype: subscription\nactions: {{type: anyone}}\n---\nname: m\npolicyKey: pk\ntype: data\nrules:\n  - {{type: mask, columns: {{tags: [{tag}]}}, mask: {mask}}}\n");
        let e = Engine::new(
            PolicySet::from_yaml_str(&policies, "p.yaml").unwrap(),
            Directory::from_yaml_str("users: [{name: u}]\n", "u.yaml").unwrap(),
            Catalog::from_yaml_str(catalog, "c.yaml").unwrap(),
        )
        .unwrap();
        let err = bigquery::bind(&e, &BindOptions { key_id: "k1".into(), ..BindOptions::default() }, LIBRARY)
            .unwrap_err()
            .to_string();
        let column = if tag == "F" { "`s.t.f`" } else { "`s.t.e`" };
        assert!(err.contains("policy `pk`") && err.contains(column) && err.contains(why), "{err}");
    }
}

const HOSTILE_CATALOG: &str = "sources:\n  - name: \"s`x.t'y\"\n    schema: \"s`x\"\n    tags: [T]\n    columns:\n      - {name: \"c`'\\\\\\n\", type: text, tags: [C]}\n      - {name: \"r\", type: text}\n";
const HOSTILE_USERS: &str =
    "users:\n  - {name: \"o'brien\\\\\", groups: [\"G`'\\\\\"], attributes: {\"k'\": [\"v\\\\'\\n\"]}}\n";
const HOSTILE_POLICIES: &str = "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: m\ntype: data\nrules:\n  - {type: mask, columns: {tags: [C]}, mask: {type: constant, value: \"a'b\\\\c`\\n\"}, exceptFor: {groups: [\"G`'\\\\\"]}}\n  - {type: matchAttribute, attribute: \"k'\", column: r}\n";

#[test]
fn bigquery_escapes_hostile_names_and_values() {
    let t = BigQuery::new("k1");
    assert_eq!(t.quote_ident("a`b\\"), "`a\\`b\\\\`");
    assert_eq!(t.literal("it's \\\n"), r"'it\'s \\\n'");
    let e = Engine::new(
        PolicySet::from_yaml_str(HOSTILE_POLICIES, "policies.yaml").unwrap(),
        Directory::from_yaml_str(HOSTILE_USERS, "users.yaml").unwrap(),
        Catalog::from_yaml_str(HOSTILE_CATALOG, "catalog.yaml").unwrap(),
    )
    .unwrap();
    let options = BindOptions { key_id: "k1".into(), ..BindOptions::default() };
    let sql = bigquery::bind(&e, &options, LIBRARY).unwrap().to_sql();
    assert!(sql.contains(r"FROM `s\`x`.`t'y`"), "{sql}");
    assert!(sql.contains(r"CAST('a\'b\\c`\n' AS STRING)"), "{sql}");
    assert!(sql.contains(r"TO 'user:o\'brien\\';"), "{sql}");
    // tests/warehouses parses this snapshot with sqlglot too.
    insta::assert_snapshot!("bigquery_hostile", sql);
}
