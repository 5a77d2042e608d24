//! Relation names as the engine stores them: dotted identifiers stay one
//! identifier, warehouses name the database, and two sources that would share
//! one view are refused before anything runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::engine;
use veil_host::targets::warehouse::Udfs;
use veil_host::targets::{postgres, snowflake, DuckDb};
use veil_host::{bind, BindOptions, Error};

const OPEN: &str = "name: open\ntype: subscription\nactions: {type: anyone}\n";

fn all() -> BindOptions {
    BindOptions { sources: Vec::new(), ..BindOptions::default() }
}

#[test]
fn a_dotted_relation_is_read_as_one_identifier_and_never_as_its_last_part() {
    let e = engine(
        OPEN,
        "users: [{name: kim}]\n",
        "sources:\n  - {name: raw.events.v2, schema: raw, columns: [{name: id, type: integer}]}\n  - {name: raw.v2, schema: raw, columns: [{name: id, type: integer}]}\n",
    );
    let b = bind(&e, &DuckDb::default(), &all()).unwrap();
    assert_eq!(b.views["raw.events.v2"], "events.v2");
    assert_eq!(b.views["raw.v2"], "v2");
    let sql = b.to_sql();
    assert!(sql.contains("CREATE OR REPLACE VIEW \"secure\".\"events.v2\""), "{sql}");
    assert!(sql.contains("FROM \"raw\".\"events.v2\""), "{sql}");
    assert_eq!(sql.matches("FROM \"raw\".\"v2\"").count(), 1, "only raw.v2's own view reads raw.v2:\n{sql}");
}

#[test]
fn names_that_differ_only_by_case_clash_where_the_engine_ignores_case() {
    let catalog = "sources:\n  - {name: s.T, schema: s, columns: [{name: id, type: integer}]}\n  - {name: s.t, schema: s, columns: [{name: id, type: integer}]}\n";
    let e = engine(OPEN, "users: [{name: kim}]\n", catalog);
    // DuckDB compares identifiers ignoring case, quoted or not.
    let err = bind(&e, &DuckDb::default(), &all()).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("`s.T`") && text.contains("`s.t`"), "{text}");
    // PostgreSQL keeps quoted names apart: two views.
    let pg = postgres::bind(&e, &all()).unwrap();
    assert_eq!((pg.views["s.T"].as_str(), pg.views["s.t"].as_str()), ("T", "t"));
}

#[test]
fn a_disambiguated_view_name_that_equals_another_source_s_is_refused() {
    // a.x and b.x share `x`, so they become a_x and b_x; a third source is a_x.
    let catalog = "sources:\n  - {name: a.x, schema: a, columns: [{name: id, type: integer}]}\n  - {name: b.x, schema: b, columns: [{name: id, type: integer}]}\n  - {name: c.a_x, schema: c, columns: [{name: id, type: integer}]}\n";
    let e = engine(OPEN, "users: [{name: kim}]\n", catalog);
    let text = bind(&e, &DuckDb::default(), &all()).unwrap_err().to_string();
    assert!(text.contains("`a.x`") && text.contains("`c.a_x`"), "{text}");
}

#[test]
fn warehouse_statements_name_the_database_of_the_base_table() {
    let catalog = "sources:\n  - name: ANALYTICS.CUSTOMERS\n    database: PROD_DB\n    schema: ANALYTICS\n    columns:\n      - {name: EMAIL, type: varchar, tags: [PII.Email]}\n";
    let policies = format!("{OPEN}---\nname: m\ntype: data\nrules:\n  - {{type: mask, columns: {{names: [email]}}, mask: {{type: null}}}}\n");
    let e = engine(&policies, "users: [{name: kim}]\n", catalog);
    let sql = snowflake::bind(&e, &all(), &Udfs::placeholders(), &[]).unwrap().to_sql();
    assert!(
        sql.contains("ALTER TABLE \"PROD_DB\".\"ANALYTICS\".\"CUSTOMERS\" MODIFY COLUMN \"EMAIL\" SET MASKING POLICY"),
        "{sql}"
    );
    assert!(!sql.contains("TABLE \"ANALYTICS\".\"CUSTOMERS\""), "{sql}");
}

#[test]
fn sources_a_bind_cannot_pin_down_are_refused_before_anything_is_written() {
    let bind_duckdb = |catalog: &str, options: &BindOptions| {
        bind(&engine(OPEN, "users: [{name: kim}]\n", catalog), &DuckDb::default(), options)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let cols = "columns: [{name: id, type: integer}]";
    // No schema: the view would read whatever the name resolves to (itself, in DuckDB).
    assert!(bind_duckdb(&format!("sources:\n  - {{name: customers, {cols}}}\n"), &all()).contains("names no schema"));
    // In veil's own schema, or the secure one: apply would overwrite the table.
    assert!(bind_duckdb(&format!("sources:\n  - {{name: veil.users, schema: veil, {cols}}}\n"), &all())
        .contains("which veil writes"));
    assert!(bind_duckdb(&format!("sources:\n  - {{name: secure.t, schema: secure, {cols}}}\n"), &all())
        .contains("which veil writes"));
    // Secure views in veil's schema.
    let veil = BindOptions { secure_schema: "VEIL".into(), ..all() };
    assert!(bind_duckdb(&format!("sources:\n  - {{name: s.t, schema: s, {cols}}}\n"), &veil)
        .contains("cannot go in schema `veil`"));
    // Two columns DuckDB cannot tell apart (a case-only twin of a tagged column).
    let twins =
        "sources:\n  - {name: s.t, schema: s, columns: [{name: secret, type: text}, {name: SECRET, type: text}]}\n";
    let err = bind_duckdb(twins, &all());
    assert!(err.contains("`secret`") && err.contains("`SECRET`"), "{err}");
    // PostgreSQL keeps them apart.
    assert!(postgres::bind(&engine(OPEN, "users: [{name: kim}]\n", twins), &all()).is_ok());
    // Warehouses: no database, no statements landing on whatever the session uses.
    let e = engine(OPEN, "users: [{name: kim}]\n", &format!("sources:\n  - {{name: s.t, schema: s, {cols}}}\n"));
    let err = snowflake::bind(&e, &all(), &Udfs::placeholders(), &[]).unwrap_err().to_string();
    assert!(err.contains("names no database"), "{err}");
}

#[test]
fn a_conditional_mask_reading_its_own_column_reads_the_masked_value_in_policy_functions() {
    let policies = format!("{OPEN}---\nname: m\ntype: data\nrules:\n  - {{type: mask, columns: {{names: [email]}}, mask: {{type: null}}, where: \"email LIKE '%@corp.com' AND country = 'FR'\"}}\n");
    let e = engine(&policies, "users: [{name: kim}]\n", "sources:\n  - {name: s.t, database: d, schema: s, columns: [{name: email, type: text}, {name: country, type: text}]}\n");
    let sql = snowflake::bind(&e, &all(), &Udfs::placeholders(), &[]).unwrap().to_sql();
    assert!(sql.contains("AS (val VARCHAR, country VARCHAR)"), "{sql}");
    assert!(sql.contains("((val LIKE '%@corp.com') AND (country = 'FR'))"), "{sql}");
}

#[test]
fn bigquery_refuses_a_dotted_secure_dataset() {
    let e = engine(
        OPEN,
        "users: [{name: kim}]\n",
        "sources:\n  - {name: s.t, database: p, schema: s, columns: [{name: id, type: integer}]}\n",
    );
    let options = BindOptions { secure_schema: "proj.secure".into(), ..all() };
    let err = veil_host::targets::bigquery::bind(&e, &options, &Udfs::placeholders(), None).unwrap_err().to_string();
    assert!(err.contains("`proj.secure`"), "{err}");
}

#[test]
fn duckdb_refuses_names_its_reader_relation_reserves() {
    for catalog in [
        "sources:\n  - {name: main.t, schema: main, columns: [{name: \"Veil:groups\", type: text}]}\n",
        "sources:\n  - {name: main.veil:reader, schema: main, identifier: \"veil:reader\", columns: [{name: id, type: integer}]}\n",
    ] {
        let e = engine(OPEN, "users: [{name: kim}]\n", catalog);
        let err = bind(&e, &DuckDb::default(), &all()).unwrap_err();
        assert!(matches!(&err, Error::Invalid(m) if m.contains("reserve") && m.contains("veil:")), "{err}");
    }
    // One reader's views read no reader relation: nothing reserved.
    let e = engine(
        OPEN,
        "users: [{name: kim}]\n",
        "sources:\n  - {name: main.t, schema: main, columns: [{name: \"veil:groups\", type: text}]}\n",
    );
    let one = BindOptions { mode: veil_host::Mode::Reader { user: "kim".into(), project: None }, ..all() };
    assert!(bind(&e, &DuckDb::default(), &one).is_ok());
}
