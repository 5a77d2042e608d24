//! Relation identity from dbt: catalog.json's stored names win, two nodes over
//! one relation are merged (never one dropped), and names that cannot both hold
//! are refused naming both nodes.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::PathBuf;

use serde_json::{json, Value};
use veil_dbt::{load, Error};

const MANIFEST: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
const CATALOG: &str = "https://schemas.getdbt.com/dbt/catalog/v1.json";

fn project(name: &str, nodes: Value, sources: Value, catalog: Option<Value>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veil-dbt-relations-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = json!({"metadata": {"dbt_schema_version": MANIFEST, "project_name": "p"},
        "nodes": nodes, "sources": sources, "exposures": {}});
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    let _ = std::fs::remove_file(dir.join("catalog.json"));
    if let Some(catalog) = catalog {
        std::fs::write(dir.join("catalog.json"), catalog.to_string()).unwrap();
    }
    dir
}

fn seed(schema: &str, alias: &str, column_type: Option<&str>) -> Value {
    json!({"resource_type": "seed", "name": alias, "alias": alias, "schema": schema, "database": "db",
        "config": {"tags": ["Customer"]}, "original_file_path": "seeds/raw_customers.csv",
        "columns": {"email": {"name": "email", "tags": ["PII.Email"], "data_type": column_type}}})
}

fn source(schema: &str, identifier: &str, columns: Value) -> Value {
    json!({"resource_type": "source", "name": "customers", "identifier": identifier, "schema": schema,
        "database": "db", "config": {"tags": ["Crm"]}, "original_file_path": "models/sources.yml", "columns": columns})
}

#[test]
fn a_seed_and_a_source_over_one_table_keep_both_nodes_tags() {
    let dir = project(
        "merge",
        json!({"seed.p.raw_customers": seed("main", "raw_customers", None)}),
        json!({"source.p.crm.customers": source("main", "raw_customers",
            json!({"city": {"name": "city", "tags": ["PII.City"]}}))}),
        None,
    );
    let dbt = load(&dir).unwrap();
    assert_eq!(dbt.catalog.len(), 1, "one relation, one data source");
    let s = dbt.catalog.source("main.raw_customers").unwrap();
    assert_eq!(s.column("email").unwrap().tags, ["PII.Email"], "the seed's column tag survives");
    assert_eq!(s.column("city").unwrap().tags, ["PII.City"], "the source's column tag too");
    for tag in ["Customer", "Crm", "dbt.resource.seed", "dbt.resource.source"] {
        assert!(s.tags.iter().any(|t| t == tag), "{tag} missing from {:?}", s.tags);
    }
    assert_eq!(dbt.warnings.len(), 1, "{:?}", dbt.warnings);
    assert!(dbt.warnings[0].contains("seed.p.raw_customers") && dbt.warnings[0].contains("source.p.crm.customers"));
    // Monitoring follows the built node.
    assert_eq!(dbt.relations["main.raw_customers"].resource_type, "seed");
}

#[test]
fn two_nodes_over_one_table_that_disagree_on_a_type_are_refused_naming_both() {
    let dir = project(
        "conflict",
        json!({"seed.p.raw_customers": seed("main", "raw_customers", Some("varchar"))}),
        json!({"source.p.crm.customers": source("main", "raw_customers",
            json!({"email": {"name": "email", "data_type": "integer"}}))}),
        None,
    );
    let err = load(&dir).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Conflict { .. }), "{text}");
    assert!(text.contains("seed.p.raw_customers") && text.contains("source.p.crm.customers"), "{text}");
    assert!(text.contains("email"), "{text}");
}

#[test]
fn two_relations_that_would_share_a_name_are_refused() {
    // schema `a.b` + table `c`, and schema `a` + table `b.c`: both `a.b.c`.
    let dir = project(
        "clash",
        json!({"seed.p.one": seed("a.b", "c", None), "seed.p.two": seed("a", "b.c", None)}),
        json!({}),
        None,
    );
    let text = load(&dir).unwrap_err().to_string();
    assert!(text.contains("seed.p.one") && text.contains("seed.p.two"), "{text}");
}

#[test]
fn dotted_identifiers_stay_one_identifier() {
    let dir = project(
        "dotted",
        json!({}),
        json!({"source.p.raw.events_v2": source("raw", "events.v2", json!({})),
               "source.p.raw.vault": source("raw", "v2", json!({}))}),
        None,
    );
    let dbt = load(&dir).unwrap();
    let events = dbt.catalog.source("raw.events.v2").unwrap();
    assert_eq!((events.schema.as_deref(), events.identifier.as_str()), (Some("raw"), "events.v2"));
    assert_eq!(dbt.catalog.source("raw.v2").unwrap().identifier, "v2");
}

#[test]
fn catalog_json_names_relations_and_columns_as_the_warehouse_stores_them() {
    // dbt-snowflake with default quoting: the model is configured lower case,
    // Snowflake stores (and catalog.json lists) it upper case.
    let model = json!({"resource_type": "model", "name": "customers", "alias": "customers", "schema": "analytics",
        "database": "prod", "config": {"materialized": "table"}, "original_file_path": "models/customers.sql",
        "columns": {"email": {"name": "email", "tags": ["PII.Email"]}}});
    let catalog = json!({"metadata": {"dbt_schema_version": CATALOG}, "sources": {},
        "nodes": {"model.p.customers": {"metadata": {"database": "PROD", "schema": "ANALYTICS", "name": "CUSTOMERS"},
            "columns": {"ID": {"type": "NUMBER(38,0)", "index": 1, "name": "ID"},
                        "EMAIL": {"type": "TEXT", "index": 2, "name": "EMAIL"}}}}});
    let dir = project("stored", json!({"model.p.customers": model}), json!({}), Some(catalog));
    let dbt = load(&dir).unwrap();
    let s = dbt.catalog.source("ANALYTICS.CUSTOMERS").unwrap();
    assert_eq!(
        (s.database.as_deref(), s.schema.as_deref(), s.identifier.as_str()),
        (Some("PROD"), Some("ANALYTICS"), "CUSTOMERS")
    );
    assert_eq!(s.column("EMAIL").unwrap().tags, ["PII.Email"], "documented `email` tags the stored `EMAIL`");
}

#[test]
fn documented_tags_that_reach_no_column_are_said_and_entries_by_case_add_up() {
    let model = json!({"resource_type": "model", "name": "c", "alias": "c", "schema": "m", "database": "db",
    "config": {"materialized": "table"}, "original_file_path": "models/c.sql",
    "columns": {
        "contact_emial": {"name": "contact_emial", "tags": ["PII.Email"]},
        "EMAIL": {"name": "EMAIL", "tags": []},
        "email": {"name": "email", "tags": ["PII.Email"]},
        "quoted": {"name": "\"Phone\"", "tags": ["PII.Phone"]}
    }});
    let catalog = json!({"metadata": {"dbt_schema_version": CATALOG}, "sources": {},
        "nodes": {"model.p.c": {"metadata": {"database": "db", "schema": "m", "name": "c"},
            "columns": {"contact_email": {"type": "VARCHAR", "index": 1, "name": "contact_email"},
                        "email": {"type": "VARCHAR", "index": 2, "name": "email"},
                        "Phone": {"type": "VARCHAR", "index": 3, "name": "Phone"}}}}});
    let dir = project("documented", json!({"model.p.c": model}), json!({}), Some(catalog));
    let dbt = load(&dir).unwrap();
    let s = dbt.catalog.source("m.c").unwrap();
    assert_eq!(s.column("email").unwrap().tags, ["PII.Email"], "the tagged entry counts whatever its order");
    assert_eq!(s.column("Phone").unwrap().tags, ["PII.Phone"], "a name written with its quotes");
    assert!(s.column("contact_email").unwrap().tags.is_empty());
    assert!(
        dbt.warnings.iter().any(|w| w.contains("`contact_emial`") && w.contains("PII.Email") && w.contains("m.c")),
        "{:?}",
        dbt.warnings
    );
}

#[test]
fn a_models_materialization_gives_its_relation_kind() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop");
    let catalog = load(fixture).unwrap().catalog;
    let kind = |name: &str| catalog.sources().find(|s| s.identifier == name).map(|s| s.kind);
    assert_eq!(kind("stg_orders"), Some(veil_policy::RelationKind::View));
    assert_eq!(kind("orders"), Some(veil_policy::RelationKind::Table));
    assert_eq!(kind("raw_orders"), Some(veil_policy::RelationKind::Table));
}

#[test]
fn relations_name_their_properties_file() {
    let mut model = seed("main", "customers", Some("VARCHAR"));
    model["resource_type"] = json!("model");
    model["original_file_path"] = json!("models/marts/customers.sql");
    model["package_name"] = json!("shop");
    model["patch_path"] = json!("shop://models/marts/schema.yml");
    let dir = project("properties", json!({"model.shop.customers": model}), json!({}), None);
    let dbt = load(&dir).unwrap();
    let r = &dbt.relations["main.customers"];
    assert_eq!((r.name.as_str(), r.package.as_deref()), ("customers", Some("shop")));
    assert_eq!(r.properties_file.as_deref(), Some("models/marts/schema.yml"));
    assert_eq!(r.original_file_path, "models/marts/customers.sql");
}
