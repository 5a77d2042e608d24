//! Catalog YAML: parse, then look every source up by name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_policy::Catalog;

fuzz_target!(|text: &str| {
    let Ok(catalog) = Catalog::from_yaml_str(text, "catalog.yaml") else { return };
    for source in catalog.sources() {
        assert!(catalog.source(&source.name).is_some());
        let _ = source.column_tags();
    }
});
