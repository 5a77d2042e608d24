//! Row-rule and conditional-mask WHERE clauses: parsed and validated, never pasted blind.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = veil_policy::sql::parse_predicate(text);
});
