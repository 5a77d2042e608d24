//! Node selection over a manifest's graph: a source, seeds, staging views, an
//! ephemeral model, marts in folders, a data test and an exposure.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::Path;

use serde_json::json;
use veil_dbt::{from_texts, select, DbtArtifacts, Selection};

fn node(kind: &str, name: &str, path: &str, tags: &[&str], parents: &[&str], materialized: &str) -> serde_json::Value {
    let folders: Vec<&str> = path.split('/').skip(1).collect();
    let mut fqn = vec!["shop".to_string()];
    fqn.extend(folders.iter().take(folders.len().saturating_sub(1)).map(|s| s.to_string()));
    fqn.push(name.to_string());
    json!({
        "resource_type": kind, "name": name, "alias": name, "schema": "main", "database": "shop",
        "package_name": "shop", "fqn": fqn, "original_file_path": path, "tags": tags,
        "config": {"materialized": materialized, "enabled": true, "tags": tags},
        "depends_on": {"nodes": parents}, "columns": {}
    })
}

fn artifacts() -> DbtArtifacts {
    let manifest = json!({
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json", "project_name": "shop"},
        "nodes": {
            "seed.shop.raw_customers": node("seed", "raw_customers", "seeds/raw_customers.csv", &["Raw"], &[], "seed"),
            "model.shop.stg_customers": node("model", "stg_customers", "models/staging/stg_customers.sql", &[], &["seed.shop.raw_customers"], "view"),
            "model.shop.stg_leads": node("model", "stg_leads", "models/staging/stg_leads.sql", &[], &["source.shop.crm.leads"], "ephemeral"),
            "model.shop.customers": node("model", "customers", "models/marts/customers.sql", &["PII"], &["model.shop.stg_customers", "model.shop.stg_leads"], "table"),
            "model.shop.payments": node("model", "payments", "models/marts/finance/payments.sql", &["Finance"], &["model.shop.customers"], "table"),
            "model.shop.revenue": node("model", "revenue", "models/marts/finance/revenue.sql", &["Finance"], &["model.shop.payments"], "view"),
            "test.shop.not_null_customers_id": node("test", "not_null_customers_id", "models/marts/schema.yml", &[], &["model.shop.customers"], "test"),
        },
        "sources": {
            "source.shop.crm.leads": {
                "resource_type": "source", "name": "leads", "identifier": "leads", "schema": "crm", "database": "shop",
                "source_name": "crm", "package_name": "shop", "fqn": ["shop", "staging", "crm", "leads"],
                "original_file_path": "models/staging/sources.yml", "tags": [], "config": {"enabled": true}, "columns": {}
            }
        },
        "exposures": {
            "exposure.shop.finance_dashboard": {
                "name": "finance_dashboard", "resource_type": "exposure", "package_name": "shop",
                "fqn": ["shop", "finance_dashboard"], "original_file_path": "models/exposures.yml",
                "depends_on": {"nodes": ["model.shop.revenue"]}, "owner": {"name": "ops"}, "meta": {}
            }
        }
    });
    from_texts(Path::new("manifest.json"), &manifest.to_string(), None).unwrap()
}

/// The data sources a selection reaches (what veil binds).
fn sources(dbt: &DbtArtifacts, select_args: &[&str], exclude: &[&str]) -> Vec<String> {
    let selection = Selection {
        select: select_args.iter().map(|s| s.to_string()).collect(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
    };
    let ids = select(&dbt.nodes, &selection).unwrap();
    let mut out: Vec<String> =
        dbt.nodes.iter().filter(|n| ids.contains(&n.unique_id)).filter_map(|n| n.data_source.clone()).collect();
    out.sort();
    out
}

#[test]
fn the_graph_carries_every_node_and_its_data_source() {
    let dbt = artifacts();
    let ids: Vec<&str> = dbt.nodes.iter().map(|n| n.unique_id.as_str()).collect();
    assert_eq!(ids.len(), 9, "{ids:?}");
    let leads = dbt.nodes.iter().find(|n| n.unique_id == "model.shop.stg_leads").unwrap();
    assert_eq!(leads.data_source, None, "an ephemeral model is no data source");
    let source = dbt.nodes.iter().find(|n| n.unique_id == "source.shop.crm.leads").unwrap();
    assert_eq!(source.data_source.as_deref(), Some("crm.leads"));
    assert_eq!(source.resource_type, "source");
}

#[test]
fn methods() {
    let dbt = artifacts();
    assert_eq!(sources(&dbt, &["tag:Finance"], &[]), ["main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["tag:Fin*"], &[]), ["main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["path:models/marts/finance"], &[]), ["main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["models/marts"], &[]), ["main.customers", "main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["resource_type:seed"], &[]), ["main.raw_customers"]);
    assert_eq!(sources(&dbt, &["resource_type:source"], &[]), ["crm.leads"]);
    assert_eq!(sources(&dbt, &["source:crm"], &[]), ["crm.leads"]);
    assert_eq!(sources(&dbt, &["source:crm.leads"], &[]), ["crm.leads"]);
    assert_eq!(sources(&dbt, &["source:crm.other"], &[]), Vec::<String>::new());
    assert_eq!(sources(&dbt, &["customers"], &[]), ["main.customers"]);
    assert_eq!(sources(&dbt, &["shop.marts.finance"], &[]), ["main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["fqn:marts.*"], &[]), ["main.customers", "main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["payments.sql"], &[]), ["main.payments"]);
    assert_eq!(sources(&dbt, &["file:revenue"], &[]), ["main.revenue"]);
    assert_eq!(sources(&dbt, &["config.materialized:view"], &[]), ["main.revenue", "main.stg_customers"]);
    assert_eq!(sources(&dbt, &["package:shop"], &[]).len(), 6);
}

#[test]
fn graph_operators() {
    let dbt = artifacts();
    // Ancestors through the ephemeral model reach the source behind it.
    assert_eq!(
        sources(&dbt, &["+customers"], &[]),
        ["crm.leads", "main.customers", "main.raw_customers", "main.stg_customers"]
    );
    assert_eq!(sources(&dbt, &["1+customers"], &[]), ["main.customers", "main.stg_customers"]);
    assert_eq!(sources(&dbt, &["customers+"], &[]), ["main.customers", "main.payments", "main.revenue"]);
    assert_eq!(sources(&dbt, &["customers+1"], &[]), ["main.customers", "main.payments"]);
    assert_eq!(sources(&dbt, &["source:crm+"], &[]), ["crm.leads", "main.customers", "main.payments", "main.revenue"]);
    // Everything feeding a dashboard.
    assert_eq!(sources(&dbt, &["+exposure:finance_dashboard"], &[]).len(), 6);
    // @: descendants and all their ancestors.
    assert_eq!(sources(&dbt, &["@stg_customers"], &[]).len(), 6);
}

#[test]
fn union_intersection_and_exclusion() {
    let dbt = artifacts();
    assert_eq!(sources(&dbt, &["tag:PII tag:Raw"], &[]), ["main.customers", "main.raw_customers"]);
    assert_eq!(sources(&dbt, &["tag:PII", "tag:Raw"], &[]), ["main.customers", "main.raw_customers"]);
    assert_eq!(sources(&dbt, &["+revenue,config.materialized:table"], &[]), ["main.customers", "main.payments"]);
    assert_eq!(sources(&dbt, &["path:models/marts"], &["tag:Finance"]), ["main.customers"]);
    // No --select: everything, less what is excluded.
    assert_eq!(sources(&dbt, &[], &["resource_type:seed", "resource_type:source"]).len(), 4);
}

#[test]
fn bad_selectors_say_what_is_wrong() {
    let dbt = artifacts();
    let e = select(&dbt.nodes, &Selection { select: vec!["colour:red".into()], exclude: vec![] }).unwrap_err();
    let m = e.to_string();
    assert!(m.starts_with("invalid selector `colour:red`: veil does not know the selector method `colour`"), "{m}");
    assert!(m.contains("help: dbt's syntax"), "{m}");
    assert!(select(&dbt.nodes, &Selection { select: vec![], exclude: vec!["@+x".into()] }).is_err());
}
