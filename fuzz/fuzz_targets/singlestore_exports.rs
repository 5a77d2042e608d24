//! The SingleStore module's exports as its canonical-ABI glue calls them: raw
//! argument bytes (any bytes: the host does not promise UTF-8) to a result string.
//! Errors come back as `veil-error:<kind>: …` strings; a panic would be a trap.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_singlestore as module;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    export: u8,
    a: &'a [u8],
    b: &'a [u8],
    c: &'a [u8],
    d: &'a [u8],
    percent: f64,
}

fuzz_target!(|input: Input<'_>| {
    let Input { a, b, c, d, .. } = input;
    let _ = match input.export % 7 {
        0 => module::hash_raw(a, b, c),
        1 => module::hash_for_reader_raw(a, b, c, d),
        2 => module::fpe_encrypt_raw(a, b, c),
        3 => module::token_mask_raw(a, b, c),
        4 => module::in_sample_raw(a, b, c, input.percent).to_string(),
        5 => module::regex_replace_raw(a, b, c),
        _ => module::email_mask_raw(a),
    };
});
