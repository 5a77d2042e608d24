//! Custom masks (`type: component`): DuckDB calls the function `veil_wasm`
//! registers, qualified with the system catalog; every other engine refuses,
//! naming policy and column.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::engine;
use veil_host::targets::{DuckDb, EngineOptions, ENGINES};
use veil_host::{BindOptions, Error, Mode};

const CATALOG: &str = "sources:\n  - name: main.accounts\n    database: bank\n    schema: main\n    identifier: accounts\n    columns:\n      - {name: id, type: integer}\n      - {name: iban, type: varchar, tags: [Finance.IBAN]}\n      - {name: branch, type: integer, tags: [Finance.IBAN]}\n";
const USERS: &str = "users:\n  - {name: pat, groups: [Payments]}\n  - {name: ann, groups: [Analysts]}\n";

fn policies(function: &str) -> String {
    format!(
        "name: open\ntype: subscription\nactions: {{type: anyone}}\n---\nname: ibans\ntype: data\nrules:\n  - type: mask\n    columns: {{tags: [Finance.IBAN]}}\n    mask: {{type: component, component: masks/iban.wasm, function: '{function}', params: {{keep-last: 4, fill: '*'}}}}\n    exceptFor: {{groups: [Payments]}}\n"
    )
}

fn options(mode: Mode) -> BindOptions {
    BindOptions { mode, key_id: "k1".into(), secure_schema: "secure".into(), sources: Vec::new() }
}

fn view_sql(mode: Mode) -> String {
    let e = engine(&policies("mask-iban"), USERS, CATALOG);
    let b = veil_host::bind(&e, &DuckDb::default(), &options(mode)).unwrap();
    b.statements.iter().filter(|s| s.kind == veil_host::StatementKind::View).map(|s| s.sql.clone()).collect()
}

#[test]
fn duckdb_calls_the_registered_function_in_the_system_catalog() {
    let sql = view_sql(Mode::Dynamic);
    // Text columns are passed as they are, others as text; params in order, as literals.
    assert!(sql.contains(r#"system.main."iban_mask_iban"("iban", 4, '*')"#), "{sql}");
    assert!(sql.contains(r#"system.main."iban_mask_iban"(CAST("branch" AS VARCHAR), 4, '*')"#), "{sql}");
    // Only for readers outside the exception.
    assert!(sql.contains("Payments"), "{sql}");
    // Never an unqualified call a session's macro could shadow.
    assert_eq!(sql.matches("iban_mask_iban").count(), sql.matches(r#"system.main."iban_mask_iban""#).count());
}

#[test]
fn per_reader_views_call_it_for_masked_readers_only() {
    let ann = view_sql(Mode::Reader { user: "ann".into(), project: None });
    assert!(ann.contains(r#"system.main."iban_mask_iban"("iban", 4, '*')"#), "{ann}");
    let pat = view_sql(Mode::Reader { user: "pat".into(), project: None });
    assert!(!pat.contains("iban_mask_iban"), "{pat}");
}

#[test]
fn a_hostile_function_name_stays_one_quoted_identifier() {
    let e = engine(&policies(r#"x"(1); SELECT 1; --"#), USERS, CATALOG);
    let sql = veil_host::bind(&e, &DuckDb::default(), &options(Mode::Dynamic)).unwrap().to_sql();
    // `-` becomes `_` (as veil_wasm names exports), `"` is doubled.
    assert!(sql.contains(r#"system.main."iban_x""(1); SELECT 1; __"("iban", 4, '*')"#), "{sql}");
}

#[test]
fn every_other_engine_refuses_naming_policy_and_column() {
    let e = engine(&policies("mask-iban"), USERS, CATALOG);
    for entry in ENGINES.iter().filter(|entry| entry.name != "duckdb") {
        let target = (entry.make)(&e, &options(Mode::Dynamic), &EngineOptions::default()).unwrap();
        let err = veil_host::bind(&e, target.as_ref(), &options(Mode::Dynamic)).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{}: {err}", entry.name);
        let text = err.to_string();
        for part in ["policy `ibans`", "main.accounts.", "mask-iban", "masks/iban.wasm", "bind this source to DuckDB"] {
            assert!(text.contains(part), "{}: `{part}` missing from: {text}", entry.name);
        }
    }
}
