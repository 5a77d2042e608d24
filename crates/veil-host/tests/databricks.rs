//! Databricks bindings: golden SQL for the example shop (with FF1 and tokens
//! replaced, tests/fixtures/databricks), refusals naming policy and column,
//! hostile names and values escaped, no key material. tests/warehouses parses the
//! SQL with sqlglot's Databricks dialect and recomputes the hash derivation.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{engine as engine_from_yaml, options, root, shop};
use veil_host::targets::databricks::{self, Databricks};
use veil_host::targets::Target;
use veil_host::{BindOptions, Error, Mode};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/databricks")
}

#[test]
fn databricks_golden() {
    let sql = databricks::bind(&shop(&fixture()), &options(), &[]).unwrap().to_sql();
    let keyring = std::fs::read_to_string(root().join("examples/shop/keyring.txt")).unwrap();
    for line in keyring.lines().filter_map(|l| l.split_once('=')) {
        assert!(!sql.contains(line.1.trim()), "key material in SQL");
    }
    assert!(!sql.contains("secret("), "keys come from the owner-only table");
    insta::assert_snapshot!("databricks", sql);
}

#[test]
fn databricks_refuses_ff1_and_tokens_naming_policy_and_column() {
    let err = databricks::bind(&shop(&root().join("examples/shop/policies")), &options(), &[]).unwrap_err();
    let Error::Unsupported { target, what } = &err else { panic!("{err}") };
    assert_eq!(*target, "databricks");
    assert!(what.contains("policy `protect-customers`"), "{what}");
    assert!(what.contains("column `main.customers.phone`") || what.contains("column `main.customers.ssn`"), "{what}");
    assert!(what.contains("FF1") || what.contains("AES-SIV"), "{what}");
}

#[test]
fn databricks_refuses_one_reader_views() {
    let options = BindOptions { mode: Mode::Reader { user: "carol".into(), project: None }, ..options() };
    assert!(databricks::bind(&shop(&fixture()), &options, &[]).is_err());
}

const HOSTILE_CATALOG: &str = "sources:\n  - name: \"s`x.t'y\"\n    database: \"p\"\n    schema: \"s`x\"\n    tags: [T]\n    columns:\n      - {name: \"c`'\\\\\", type: text, tags: [C]}\n      - {name: \"r\", type: text}\n";
const HOSTILE_USERS: &str =
    "users:\n  - {name: \"o'brien\\\\\", groups: [\"G`'\\\\\"], attributes: {\"k'\": [\"v\\\\'\"]}}\n";
const HOSTILE_POLICIES: &str = "name: open\ntype: subscription\nactions: {type: anyone}\n---\nname: m\ntype: data\nrules:\n  - {type: mask, columns: {tags: [C]}, mask: {type: constant, value: \"a'b\\\\c`\"}, exceptFor: {groups: [\"G`'\\\\\"]}}\n  - {type: matchAttribute, attribute: \"k'\", column: r}\n";

#[test]
fn databricks_escapes_hostile_names_and_values() {
    let t = Databricks::new(&shop(&fixture()), "k1");
    assert_eq!(t.quote_ident("a`b"), "`a``b`");
    assert_eq!(t.literal(r"it's \"), r"'it\'s \\'");
    let e = engine_from_yaml(HOSTILE_POLICIES, HOSTILE_USERS, HOSTILE_CATALOG);
    let sql =
        databricks::bind(&e, &BindOptions { key_id: "k1".into(), ..BindOptions::default() }, &[]).unwrap().to_sql();
    assert!(sql.contains("ALTER TABLE `p`.`s``x`.`t'y` ALTER COLUMN `c``'\\` SET MASK"), "{sql}");
    assert!(sql.contains(r"CAST('a\'b\\c`' AS STRING)"), "{sql}");
    assert!(sql.contains(r"is_account_group_member('G`\'\\')"), "{sql}");
    assert!(sql.contains(r"('o\'brien\\')"), "{sql}");
    assert!(sql.contains(r"GRANT SELECT ON TABLE `p`.`s``x`.`t'y` TO `o'brien\`;"), "{sql}");
    // tests/warehouses parses this snapshot with sqlglot too.
    insta::assert_snapshot!("databricks_hostile", sql);
}

/// The keyed hash and sample expressions for the scopes of the shared vectors
/// (tests/vectors/core.json): tests/warehouses evaluates them as Databricks would
/// (hmac, hex, encode, …) and compares with veil-core's outputs.
#[test]
fn databricks_keyed_expressions_for_the_vectors() {
    use veil_host::targets::{MaskContext, Reader};
    use veil_policy::{ColumnType, HashScope, Mask, RowPredicate};
    let t = Databricks::new(&shop(&fixture()), "k1");
    let ctx = |source: &'static str| MaskContext {
        source,
        column: "v",
        policy: "vectors",
        key_id: "k1",
        column_type: &ColumnType::Text,
        reader: Reader::Dynamic,
    };
    let mut lines = Vec::new();
    for (source, per_reader) in [("shop.customers", false), ("shop.orders", false), ("shop.customers", true)] {
        let sql = t.mask(&Mask::Hash { scope: HashScope::Source, per_reader }, "v", &ctx(source)).unwrap();
        lines.push(format!("hash\t{source}\t{per_reader}\t{sql}"));
    }
    for percent in [10.0, 100.0, 0.0] {
        let keep = RowPredicate::Sample { percent, key: vec!["v".into()] };
        let sql = t.row_predicate(&keep, &ctx("shop.orders")).unwrap();
        lines.push(format!("in_sample\tshop.orders\t{percent:?}\t{sql}"));
    }
    let project = t.mask(&Mask::Hash { scope: HashScope::Project, per_reader: false }, "v", &ctx("shop.customers"));
    assert!(project.unwrap_err().to_string().contains("project-scoped hash"));
    let over = RowPredicate::Sample { percent: 101.0, key: vec!["v".into()] };
    assert!(t.row_predicate(&over, &ctx("shop.orders")).is_err());
    insta::assert_snapshot!("databricks_vectors", lines.join("\n"));
}
