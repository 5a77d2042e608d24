//! Policies attached to tables (Snowflake, Databricks): exempt principals read
//! unmasked and unfiltered, and UDF bundles are needed only when a plan calls them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{engine, root, shop};
use veil_host::targets::warehouse::Udfs;
use veil_host::targets::{databricks, snowflake};
use veil_host::{BindOptions, Error};

const POLICIES: &str = "name: open\ntype: subscription\nactions: {type: grant, entitlements: {groups: [Staff]}}\n---\nname: m\ntype: data\nrules:\n  - {type: mask, columns: {names: [email]}, mask: {type: null}}\n  - {type: where, sql: \"region = 'EU'\"}\n";
const CATALOG: &str = "sources:\n  - {name: s.t, database: db, schema: s, columns: [{name: email, type: varchar}, {name: region, type: varchar}]}\n";

fn all() -> BindOptions {
    BindOptions { sources: Vec::new(), ..BindOptions::default() }
}

#[test]
fn snowflake_exempt_roles_read_unmasked_and_unfiltered() {
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", CATALOG);
    let exempt = vec!["TRANSFORMER".to_string()];
    let sql = snowflake::bind(&e, &all(), &Udfs::placeholders(), &exempt).unwrap().to_sql();
    assert!(
        sql.contains("RETURNS VARCHAR ->\n  CASE WHEN (IS_ROLE_IN_SESSION('TRANSFORMER')) THEN val ELSE CASE"),
        "{sql}"
    );
    assert!(sql.contains("RETURNS BOOLEAN ->\n  (IS_ROLE_IN_SESSION('TRANSFORMER'))\n  OR (EXISTS"), "{sql}");
    // Without exemptions, nobody outside the facts reads (as before).
    let plain = snowflake::bind(&e, &all(), &Udfs::placeholders(), &[]).unwrap().to_sql();
    assert!(!plain.contains("TRANSFORMER") && !plain.contains("THEN val ELSE"), "{plain}");
}

#[test]
fn databricks_exempt_principals_read_unmasked_and_unfiltered() {
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", CATALOG);
    let exempt = vec!["dbt-sp".to_string()];
    let sql = databricks::bind(&e, &all(), &exempt).unwrap().to_sql();
    let who = "((current_user() = 'dbt-sp' OR is_account_group_member('dbt-sp')))";
    assert!(sql.contains(&format!("RETURN CASE WHEN {who} THEN val ELSE CASE")), "{sql}");
    assert!(sql.contains(&format!("RETURNS BOOLEAN\nRETURN {who}\n  OR (EXISTS")), "{sql}");
}

#[test]
fn bundles_are_read_only_when_a_plan_calls_them() {
    let nothing = Udfs::load(&root().join("no-such-folder")).unwrap();
    // Null masks and a WHERE row rule call no UDF: no bundle needed.
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", CATALOG);
    assert!(snowflake::bind(&e, &all(), &nothing, &[]).is_ok());
    // The shop's hashes, FF1 and tokens do: refused, naming the missing file.
    let shop = shop(&root().join("examples/shop/policies"));
    let err = snowflake::bind(&shop, &common::options(), &nothing, &[]).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("no-such-folder/veil-") && text.contains("scripts/build-wasm"), "{text}");
}

const KINDS: &str = "sources:\n  - {name: s.t, database: db, schema: s, columns: [{name: email, type: varchar}, {name: region, type: varchar}]}\n  - {name: s.v, database: db, schema: s, kind: view, columns: [{name: email, type: varchar}, {name: region, type: varchar}]}\n  - {name: s.mv, database: db, schema: s, kind: materialized_view, columns: [{name: email, type: varchar}, {name: region, type: varchar}]}\n";

/// Every statement about `relation` in `sql`.
fn about<'a>(sql: &'a str, relation: &str) -> Vec<&'a str> {
    sql.split(";\n").filter(|s| s.contains(relation)).collect()
}

#[test]
fn snowflake_names_views_and_materialized_views_as_such() {
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", KINDS);
    let sql = snowflake::bind(&e, &all(), &Udfs::placeholders(), &[]).unwrap().to_sql();
    let each = |relation: &str, keyword: &str| {
        let statements = about(&sql, relation);
        assert!(statements.len() >= 4, "{relation}: {statements:?}");
        for s in statements {
            let s = s.trim_start();
            let ok = s.starts_with(&format!("ALTER {keyword} {relation} "))
                || s.contains(&format!(" SELECT ON {keyword} {relation} "));
            assert!(ok, "{relation} as {keyword}: {s}");
        }
    };
    each(r#""db"."s"."t""#, "TABLE");
    each(r#""db"."s"."v""#, "VIEW");
    each(r#""db"."s"."mv""#, "MATERIALIZED VIEW");
}

#[test]
fn databricks_refuses_views_and_alters_materialized_views() {
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", KINDS);
    let err = databricks::bind(&e, &all(), &[]).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("the view `s.v`") && text.contains("--source"), "{text}");
    let only = BindOptions { sources: vec!["s.t".into(), "s.mv".into()], ..BindOptions::default() };
    let sql = databricks::bind(&e, &only, &[]).unwrap().to_sql();
    assert!(sql.contains("ALTER MATERIALIZED VIEW `db`.`s`.`mv` SET ROW FILTER"), "{sql}");
    assert!(sql.contains("ALTER MATERIALIZED VIEW `db`.`s`.`mv` ALTER COLUMN `email` SET MASK"), "{sql}");
    assert!(sql.contains("GRANT SELECT ON MATERIALIZED VIEW `db`.`s`.`mv` TO `u`"), "{sql}");
    assert!(sql.contains("ALTER TABLE `db`.`s`.`t` SET ROW FILTER"), "{sql}");
}

#[test]
fn an_unknown_relation_kind_is_refused_with_its_place() {
    let bad = "sources:\n  - {name: s.t, schema: s, kind: vue}\n";
    let err = veil_policy::Catalog::from_yaml_str(bad, "catalog.yaml").unwrap_err().to_string();
    assert!(err.contains("catalog.yaml:2:") && err.contains("vue"), "{err}");
}

#[test]
fn the_registry_builds_every_engine_and_modules_are_read_only_when_needed() {
    use veil_host::targets::{engine as registered, EngineOptions, ENGINES};
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", CATALOG);
    let missing = EngineOptions {
        udfs: Some(root().join("no-such-folder")),
        modules: Some(root().join("no-such-folder")),
        ..EngineOptions::default()
    };
    // Null masks and a WHERE rule call no helper function: every engine binds
    // without bundles or modules.
    for entry in ENGINES {
        let target = (entry.make)(&e, &all(), &missing).unwrap();
        assert_eq!(target.name(), entry.name);
        veil_host::bind(&e, target.as_ref(), &all()).unwrap();
    }
    // The shop's hash needs the SingleStore modules: refused naming the folder.
    let shop = shop(&root().join("examples/shop/policies"));
    let singlestore = (registered("singlestore").unwrap().make)(&shop, &common::options(), &missing).unwrap();
    let err = veil_host::bind(&shop, singlestore.as_ref(), &common::options()).unwrap_err().to_string();
    assert!(err.contains("no-such-folder") && err.contains("scripts/build-wasm"), "{err}");
}

#[test]
fn veils_own_schemas_live_in_the_sources_database_never_the_sessions() {
    use veil_host::targets::{engine as registered, EngineOptions};
    let one = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", CATALOG);
    for name in ["snowflake", "databricks", "bigquery"] {
        let target = (registered(name).unwrap().make)(&one, &all(), &EngineOptions::default()).unwrap();
        let sql = veil_host::bind(&one, target.as_ref(), &all()).unwrap().to_sql();
        let q = |s: &str| target.quote_ident(s);
        // Every mention of veil's schema is preceded by the sources' database.
        let veil = q("veil");
        let bare = sql.match_indices(&veil).filter(|(i, _)| !sql[..*i].ends_with(&format!("{}.", q("db")))).count();
        assert_eq!(bare, 0, "{name}: veil's schema named without its database:\n{sql}");
    }
    // Sources in two databases: veil cannot guess; --database decides.
    let two = "sources:\n  - {name: a.t, database: db1, schema: s, identifier: t, columns: [{name: email, type: varchar}]}\n  - {name: b.t, database: db2, schema: s2, identifier: t, columns: [{name: email, type: varchar}]}\n";
    let e = engine(POLICIES, "users: [{name: u, groups: [Staff]}]\n", two);
    let err = (registered("snowflake").unwrap().make)(&e, &all(), &EngineOptions::default()).err().unwrap();
    assert!(err.to_string().contains("`db1`, `db2`") && err.to_string().contains("--database"), "{err}");
    let given = EngineOptions { database: Some("GOV".into()), ..EngineOptions::default() };
    let target = (registered("snowflake").unwrap().make)(&e, &all(), &given).unwrap();
    let sql = veil_host::bind(&e, target.as_ref(), &all()).unwrap().to_sql();
    assert!(sql.contains(r#"CREATE SCHEMA IF NOT EXISTS "GOV"."veil";"#), "{sql}");
}
