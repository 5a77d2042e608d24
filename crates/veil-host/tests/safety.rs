//! Names and values that must not break out of the SQL veil generates.
#![allow(clippy::unwrap_used)]

use veil_host::targets::{DuckDb, Target};
use veil_host::{bind, BindOptions, Error, Mode};
use veil_policy::{Catalog, Directory, Engine, PolicySet};

fn engine(catalog: &str, users: &str, policies: &str) -> Engine {
    Engine::new(
        PolicySet::from_yaml_str(policies, "policies.yaml").unwrap(),
        Directory::from_yaml_str(users, "users.yaml").unwrap(),
        Catalog::from_yaml_str(catalog, "catalog.yaml").unwrap(),
    )
    .unwrap()
}

const OPEN: &str = "name: open\ntype: subscription\nactions: {type: anyone}\n";

#[test]
fn identifiers_and_literals_are_escaped() {
    let t = DuckDb::default();
    assert_eq!(t.quote_ident(r#"a"b"#), r#""a""b""#);
    assert_eq!(t.literal("it's"), "'it''s'");
    let e = engine(
        "sources:\n  - name: \"s.t\\\"x\"\n    schema: s\n    columns: [{name: \"c'\\\"\", type: text}]\n",
        "users:\n  - {name: \"o'brien\"}\n",
        OPEN,
    );
    let sql = bind(&e, &t, &BindOptions::default()).unwrap().to_sql();
    assert!(sql.contains(r#"FROM "s"."t""x""#), "{sql}");
    assert!(sql.contains(r#""c'""" AS "c'""""#), "{sql}");
    assert!(sql.contains("('o''brien')"), "{sql}");
}

#[test]
fn key_ids_must_be_plain() {
    let e = engine("sources: []\n", "users: []\n", OPEN);
    let options = BindOptions { key_id: "k1'); --".into(), ..BindOptions::default() };
    assert!(matches!(bind(&e, &DuckDb::default(), &options), Err(Error::Invalid(_))));
}

#[test]
fn odd_type_names_are_refused() {
    let e = engine(
        "sources:\n  - name: t\n    schema: s\n    columns: [{name: c, type: \"int); DROP TABLE x; --\", tags: [T]}]\n",
        "users: []\n",
        &format!("{OPEN}---\nname: m\ntype: data\nrules:\n  - {{type: mask, columns: {{tags: [T]}}, mask: {{type: null}}}}\n"),
    );
    let err = bind(&e, &DuckDb::default(), &BindOptions::default()).unwrap_err().to_string();
    assert!(err.contains("cannot be used in generated SQL"), "{err}");
}

#[test]
fn same_relation_name_in_two_schemas_gets_two_views() {
    let e = engine(
        "sources:\n  - {name: a.t, schema: a, columns: [{name: c, type: text}]}\n  - {name: b.t, schema: b, columns: [{name: c, type: text}]}\n",
        "users: []\n",
        OPEN,
    );
    let b = bind(&e, &DuckDb::default(), &BindOptions::default()).unwrap();
    assert_eq!(b.views.get("a.t").map(String::as_str), Some("a_t"));
    assert_eq!(b.views.get("b.t").map(String::as_str), Some("b_t"));
}

#[test]
fn a_denied_reader_gets_no_view() {
    let e = engine(
        "sources:\n  - {name: s.t, schema: s, columns: [{name: c, type: text}]}\n",
        "users: [{name: u}]\n",
        "name: nobody\ntype: subscription\nactions: {type: users, users: [someone]}\n",
    );
    let options = BindOptions { mode: Mode::Reader { user: "u".into(), project: None }, ..BindOptions::default() };
    let b = bind(&e, &DuckDb::default(), &options).unwrap();
    let sql = b.to_sql();
    assert!(!sql.contains("CREATE OR REPLACE VIEW"), "{sql}");
    assert!(sql.contains(r#"DROP VIEW IF EXISTS "secure"."t";"#), "{sql}");
    assert!(b.views.is_empty());
}
