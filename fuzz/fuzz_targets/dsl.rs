//! The entitlement DSL (`@isInGroups('A') and not @hasAttribute('K', 'v')`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_policy::Catalog;

const CATALOG: &str = "sources:
  - name: main.t
    schema: main
    tags: [A.B]
    columns:
      - {name: c, type: text, tags: [PII]}
";

fuzz_target!(|text: &str| {
    let Ok(expr) = veil_policy::dsl::parse(text) else { return };
    let Ok(catalog) = Catalog::from_yaml_str(CATALOG, "catalog.yaml") else { return };
    for source in catalog.sources() {
        let _ = expr.to_condition(source);
    }
});
