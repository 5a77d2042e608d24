//! dbt's manifest.json and catalog.json: the input splits at the first NUL byte
//! into a manifest and (when present) a catalog.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (manifest, catalog) = match text.split_once('\0') {
        Some((m, c)) => (m, Some((Path::new("catalog.json"), c))),
        None => (text, None),
    };
    let _ = veil_dbt::from_texts(Path::new("manifest.json"), manifest, catalog);
});
