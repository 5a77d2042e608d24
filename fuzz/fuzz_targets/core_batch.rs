//! Every veil-core function through its batch form, on arbitrary values, keys,
//! scopes and parameters. Errors are fine; a panic is a crash. Where a function has
//! an inverse (FF1, tokens), the round trip must give the value back.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_core::mask::{self, DateUnit, Keep};
use veil_core::{rows, Key, Scope};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    function: u8,
    key: [u8; 32],
    scope: &'a str,
    reader: Option<&'a str>,
    texts: Vec<Option<&'a str>>,
    bytes: Vec<Option<&'a [u8]>>,
    ints: Vec<Option<i64>>,
    floats: Vec<Option<f64>>,
    pattern: &'a str,
    replacement: &'a str,
    number: i64,
    float: f64,
    count: u8,
    fill: char,
}

fuzz_target!(|input: Input<'_>| {
    let key = Key::from_bytes(input.key);
    let mut scope = Scope::parse(input.scope);
    if let Some(reader) = input.reader {
        scope = scope.for_reader(reader);
    }
    let unit = || DateUnit::parse(input.pattern);
    match input.function % 16 {
        0 => {
            let _ = mask::keyed_hash_batch(&key, &scope, &input.bytes);
        }
        1 => {
            let fpe = mask::FormatPreserving::new(&key, &scope);
            if let Ok(encrypted) = fpe.encrypt_batch(&input.texts) {
                let back: Vec<Option<&str>> = encrypted.iter().map(Option::as_deref).collect();
                let decrypted = fpe.decrypt_batch(&back);
                assert_eq!(decrypted.ok().as_deref(), Some(&input.texts.iter().map(|t| t.map(str::to_owned)).collect::<Vec<_>>()[..]));
            }
            let _ = fpe.decrypt_batch(&input.texts);
        }
        2 => {
            let tokens = mask::Tokenizer::new(&key, &scope);
            let masked = tokens.mask_batch(&input.bytes);
            let back: Vec<Option<&str>> = masked.iter().map(Option::as_deref).collect();
            let clear = tokens.unmask_batch(&back).ok();
            let expected: Vec<Option<Vec<u8>>> = input.bytes.iter().map(|b| b.map(<[u8]>::to_vec)).collect();
            assert_eq!(clear, Some(expected));
            let _ = tokens.unmask_batch(&input.texts);
        }
        3 => {
            if let Ok(regex) = mask::RegexMask::new(input.pattern, input.replacement) {
                let _ = regex.apply_batch(&input.texts);
            }
        }
        4 => {
            let n = usize::from(input.count);
            let _ = mask::reveal_batch(&input.texts, Keep::First(n), input.fill);
            let _ = mask::reveal_batch(&input.texts, Keep::Last(n), input.fill);
        }
        5 => {
            let _ = mask::email_mask_batch(&input.texts);
        }
        6 => {
            for value in input.ints.iter().flatten() {
                let _ = mask::round_int(*value, input.number);
            }
        }
        7 => {
            if let Ok(bucket) = mask::FloatBucket::new(input.float) {
                let _ = bucket.apply_batch(&input.floats);
            }
            for value in input.floats.iter().flatten() {
                let _ = mask::round_places(*value, i32::from(input.count) - 128);
            }
        }
        8 => {
            if let Ok(unit) = unit() {
                let _ = mask::trunc_iso_batch(&input.texts, unit);
                for value in input.ints.iter().flatten() {
                    let _ = mask::trunc_timestamp_micros(*value, unit);
                    let _ = mask::trunc_date_days(*value as i32, unit);
                }
            }
        }
        9 => {
            if let Ok(sampler) = rows::Sampler::new(&key, &scope, input.float) {
                let _ = sampler.contains_batch(&input.bytes);
            }
        }
        10 => {
            let values: Vec<&str> = input.texts.iter().flatten().copied().collect();
            let _ = rows::any_tag_matches(&values, &values);
            for v in &values {
                let _ = rows::attribute_in(v, &values, input.count % 2 == 0);
                let _ = rows::tag_matches(input.pattern, v);
            }
        }
        11 => {
            for value in input.ints.iter().flatten() {
                let _ = rows::in_window(*value, input.number, input.number.wrapping_sub(*value));
            }
        }
        12 => {
            for text in input.texts.iter().flatten() {
                let _ = mask::Constant::parse(text, mask::ValueType::Text);
                let _ = mask::Constant::parse(text, mask::ValueType::Integer);
                let _ = mask::Constant::parse(text, mask::ValueType::Date);
            }
        }
        13 => {
            let _ = Key::from_hex(input.pattern);
        }
        14 => {
            for value in input.ints.iter().flatten() {
                let _ = mask::round_decimal(i128::from(*value) * i128::from(input.number), i128::from(input.number));
            }
        }
        _ => {
            let _ = mask::null_mask(&input.texts);
        }
    }
});
