//! The entitlement DSL (`@isInGroups('A') and not @hasAttribute('K', 'v')`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_policy::DataSource;

fuzz_target!(|text: &str| {
    let Ok(expr) = veil_policy::dsl::parse(text) else { return };
    let source = DataSource {
        name: "main.t".into(),
        database: None,
        schema: Some("main".into()),
        tags: vec!["A.B".into()],
        columns: Vec::new(),
    };
    let _ = expr.to_condition(&source);
});
