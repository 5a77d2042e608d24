//! The example shop project's real dbt artifacts (dbt-core 1.10, dbt-duckdb),
//! trimmed of macros and SQL, plus one hand-added dbt source.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::PathBuf;

use veil_dbt::{load, load_files, Error};
use veil_policy::ColumnType;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop")
}

#[test]
fn models_seeds_and_sources_become_tagged_typed_sources() {
    let dbt = load(fixtures()).unwrap();
    assert_eq!(dbt.project_name.as_deref(), Some("shop"));
    let names: Vec<&str> = dbt.catalog.sources().map(|s| s.name.as_str()).collect();
    for expected in [
        "main.customers",
        "main.orders",
        "main.payments",
        "main.employees",
        "main_raw.raw_customers",
        "main_staging.stg_orders",
        "crm.crm_leads",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }

    let customers = dbt.catalog.source("main.customers").unwrap();
    assert_eq!(customers.database.as_deref(), Some("shop"));
    for tag in ["Customer", "Strictly Confidential.Confidential", "dbt.resource.model", "dbt.path.marts"] {
        assert!(customers.tags.iter().any(|t| t == tag), "{tag} not in {:?}", customers.tags);
    }
    // catalog.json gives every column, in table order, typed; tags from the manifest.
    let columns: Vec<&str> = customers.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        columns,
        [
            "customer_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "country",
            "state",
            "birth_date",
            "credit_card",
            "ssn"
        ]
    );
    let email = customers.column("email").unwrap();
    assert_eq!(email.column_type, ColumnType::Text);
    assert_eq!(email.tags, ["PII.Email"]);
    assert_eq!(customers.column("phone").unwrap().tags, ["PII.Phone"], "meta.veil.tags");
    assert_eq!(customers.column("birth_date").unwrap().column_type, ColumnType::Date);
    assert!(customers.column("first_name").unwrap().tags.is_empty());

    let payments = dbt.catalog.source("main.payments").unwrap();
    assert!(payments.tags.iter().any(|t| t == "dbt.path.marts.finance"));
    assert!(matches!(payments.column("amount").unwrap().column_type, ColumnType::Decimal { precision: 10, scale: 2 }));
    let seed = dbt.catalog.source("main_raw.raw_customers").unwrap();
    assert!(seed.tags.iter().any(|t| t == "dbt.resource.seed") && seed.tags.iter().any(|t| t == "Raw"));
    let orders = dbt.catalog.source("main.orders").unwrap();
    assert_eq!(orders.column("ordered_at").unwrap().column_type, ColumnType::Timestamp);

    // Sources: identifier names the relation; meta.veil.tags on table and column.
    let leads = dbt.catalog.source("crm.crm_leads").unwrap();
    assert!(leads.tags.iter().any(|t| t == "PII") && leads.tags.iter().any(|t| t == "dbt.resource.source"));
    assert_eq!(leads.column("email").unwrap().tags, ["PII.Email"]);

    let project = &dbt.projects[0];
    assert_eq!(project.name, "growth_dashboard");
    assert_eq!(project.purposes, ["Marketing Analysis"]);
    assert_eq!(project.owner.as_deref(), Some("growth@shop.example"));
    assert_eq!(project.sources, ["main.customers", "main.orders"]);
}

#[test]
fn without_catalog_json_documented_columns_only_and_untyped_are_reported() {
    let dbt = load_files(fixtures().join("manifest.json"), None).unwrap();
    let customers = dbt.catalog.source("main.customers").unwrap();
    assert_eq!(customers.columns.len(), 7, "only documented columns");
    assert!(matches!(customers.column("email").unwrap().column_type, ColumnType::Other { .. }));
    assert!(dbt.untyped_columns.iter().any(|c| c == "main.customers.email"));
    let leads = dbt.catalog.source("crm.crm_leads").unwrap();
    assert_eq!(leads.column("email").unwrap().column_type, ColumnType::Text, "data_type used");
}

#[test]
fn broken_and_unsupported_artifacts_are_clear_errors() {
    let dir = tempdir();
    let broken = dir.join("manifest.json");
    std::fs::write(&broken, "{\n  \"metadata\": {\n    \"dbt_schema_version\": \"x\",,\n}").unwrap();
    let err = load(&dir).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Json { line: 3, .. }), "{text}");
    assert!(text.contains("manifest.json:3:"), "{text}");

    std::fs::write(
        &broken,
        r#"{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v7.json"}}"#,
    )
    .unwrap();
    let text = load(&dir).unwrap_err().to_string();
    assert!(text.contains("v7.json") && text.contains("v10 to v12"), "{text}");

    std::fs::remove_file(&broken).unwrap();
    let text = load(&dir).unwrap_err().to_string();
    assert!(text.contains("manifest.json") && text.contains("dbt compile"), "{text}");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veil-dbt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn relations_say_how_each_source_is_materialised() {
    let dbt = load(fixtures()).unwrap();
    let customers = &dbt.relations["main.customers"];
    assert_eq!(customers.resource_type, "model");
    assert_eq!(customers.materialized.as_deref(), Some("table"));
    // The fixture is trimmed of checksums; real manifests carry a sha256 per node.
    assert!(customers.checksum.as_ref().is_none_or(|c| c.len() == 64));
    assert!(customers.column_types.iter().any(|(name, ty)| name == "email" && ty == "VARCHAR"), "{customers:?}");
    assert!(customers.documented_columns.iter().any(|(name, tags)| name == "email" && tags == &["PII.Email"]));
    assert_eq!(dbt.relations["main_staging.stg_orders"].materialized.as_deref(), Some("view"));
    assert_eq!(dbt.relations["crm.crm_leads"].resource_type, "source");
}
