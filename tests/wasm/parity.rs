//! The component `dist/veil.wasm` in wasmtime gives the same bytes as veil-core
//! natively: every shared vector through the scalar and the batch form of its
//! export, then every export against veil-core on generated inputs (readers, bad
//! keys, 2048-value batches with NULLs, round trips).
//!
//! Build the component first: `scripts/build-wasm`. A missing component fails
//! these tests; it never skips them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeSet;

use serde_json::{json, Value};
use veil_core::mask::{self, DateUnit, Keep as CoreKeep};
use veil_core::{rows, Key, Scope};
use veil_tests::host::{kind, Host, Keep, WitError};
use veil_tests::vectors::{self, stored, text};

fn host() -> Host {
    match Host::load() {
        Ok(host) => host,
        Err(message) => panic!("{message}"),
    }
}

/// A call's result: trapping is a failure of its own (nothing may trap).
fn unwrap_call<T>(function: &str, r: wasmtime::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("`{function}` trapped: {e:#}"))
}

fn wit<T>(function: &str, r: wasmtime::Result<Result<T, WitError>>) -> Result<T, String> {
    unwrap_call(function, r).map_err(|e| kind(&e).to_owned())
}

fn opt<T>(v: Option<T>) -> Value
where
    Value: From<T>,
{
    v.map_or(Value::Null, Value::from)
}

fn reader(args: &[Value], at: usize) -> Option<&str> {
    args.get(at).and_then(Value::as_str)
}

/// Put one value between two NULLs, call the batch form, check the NULLs came
/// back as NULLs and return the middle value.
fn around<T: Clone>(value: Option<T>) -> Vec<Option<T>> {
    vec![None, value, None]
}

fn middle<T: std::fmt::Debug>(function: &str, out: Vec<Option<T>>) -> Option<T> {
    assert_eq!(out.len(), 3, "`{function}`: batch length changed: {out:?}");
    let mut out = out.into_iter();
    let (first, middle, last) = (out.next().unwrap(), out.next().unwrap(), out.next().unwrap());
    assert!(first.is_none() && last.is_none(), "`{function}`: a NULL did not stay NULL");
    middle
}

/// One shared vector through the scalar export (`batch = false`) or the batch one.
fn run(h: &mut Host, key: &str, f: &str, args: &[Value], batch: bool) -> Result<Value, String> {
    let a0 = text(&args[0]);
    let s = &mut h.store;
    let masks = h.veil.veil_udf_masks();
    let rows_ = h.veil.veil_udf_rows();
    let str1 = |i: usize| args[i].as_str().unwrap().to_owned();
    Ok(match (f, batch) {
        ("hash", false) => match &a0 {
            Some(v) => json!(wit(f, masks.call_hash(&mut *s, v, key, &str1(1), reader(args, 2)))?),
            None => Value::Null,
        },
        ("hash", true) => {
            opt(middle(f, wit(f, masks.call_hash_batch(&mut *s, &around(a0), key, &str1(1), reader(args, 2)))?))
        }
        ("mask_regex", false) => match &a0 {
            // The pattern is checked even for NULL, as natively.
            Some(v) => json!(wit(f, masks.call_mask_regex(&mut *s, v, &str1(1), &str1(2)))?),
            None => {
                wit(f, masks.call_mask_regex(&mut *s, "", &str1(1), &str1(2)))?;
                Value::Null
            }
        },
        ("mask_regex", true) => {
            opt(middle(f, wit(f, masks.call_mask_regex_batch(&mut *s, &around(a0), &str1(1), &str1(2)))?))
        }
        ("reveal_first" | "reveal_last", _) => {
            let n = u32::try_from(args[1].as_u64().unwrap()).unwrap();
            let keep = if f == "reveal_first" { Keep::First(n) } else { Keep::Last(n) };
            let fill = str1(2).chars().next().unwrap();
            if batch {
                opt(middle(f, unwrap_call(f, masks.call_reveal_batch(&mut *s, &around(a0), keep, fill))))
            } else {
                opt(a0.map(|v| unwrap_call(f, masks.call_reveal(&mut *s, &v, keep, fill))))
            }
        }
        ("mask_email", false) => opt(a0.map(|v| unwrap_call(f, masks.call_email_mask(&mut *s, &v)))),
        ("mask_email", true) => opt(middle(f, unwrap_call(f, masks.call_email_mask_batch(&mut *s, &around(a0))))),
        ("round_int", false) => {
            let width = args[1].as_i64().unwrap();
            opt(args[0].as_i64().map(|v| wit(f, masks.call_round_int(&mut *s, v, width))).transpose()?)
        }
        ("round_int", true) => {
            let width = args[1].as_i64().unwrap();
            opt(middle(f, wit(f, masks.call_round_int_batch(&mut *s, &around(args[0].as_i64()), width))?))
        }
        ("round_float", false) => {
            let width = args[1].as_f64().unwrap();
            // The width is checked even for NULL, as natively.
            let probe = wit(f, masks.call_round_float(&mut *s, args[0].as_f64().unwrap_or(0.0), width))?;
            opt(args[0].as_f64().map(|_| probe))
        }
        ("round_float", true) => {
            let width = args[1].as_f64().unwrap();
            opt(middle(f, wit(f, masks.call_round_float_batch(&mut *s, &around(args[0].as_f64()), width))?))
        }
        ("round_places", false) => {
            let places = i32::try_from(args[1].as_i64().unwrap()).unwrap();
            opt(args[0].as_f64().map(|v| unwrap_call(f, masks.call_round_places(&mut *s, v, places))))
        }
        ("round_places", true) => {
            let places = i32::try_from(args[1].as_i64().unwrap()).unwrap();
            opt(middle(f, unwrap_call(f, masks.call_round_places_batch(&mut *s, &around(args[0].as_f64()), places))))
        }
        ("trunc_date", false) => {
            let days = args[0].as_i64().map(|d| i32::try_from(d).unwrap());
            let probe = wit(f, masks.call_trunc_date(&mut *s, days.unwrap_or(0), &str1(1)))?;
            opt(days.map(|_| probe))
        }
        ("trunc_date", true) => {
            let days = args[0].as_i64().map(|d| i32::try_from(d).unwrap());
            opt(middle(f, wit(f, masks.call_trunc_date_batch(&mut *s, &around(days), &str1(1)))?))
        }
        ("trunc_timestamp", false) => {
            let probe = wit(f, masks.call_trunc_timestamp(&mut *s, args[0].as_i64().unwrap_or(0), &str1(1)))?;
            opt(args[0].as_i64().map(|_| probe))
        }
        ("trunc_timestamp", true) => {
            opt(middle(f, wit(f, masks.call_trunc_timestamp_batch(&mut *s, &around(args[0].as_i64()), &str1(1)))?))
        }
        ("trunc_iso", false) => opt(a0.map(|v| wit(f, masks.call_trunc_iso(&mut *s, &v, &str1(1)))).transpose()?),
        ("trunc_iso", true) => opt(middle(f, wit(f, masks.call_trunc_iso_batch(&mut *s, &around(a0), &str1(1)))?)),
        ("fpe_encrypt", false) => {
            opt(a0.map(|v| wit(f, masks.call_fpe_encrypt(&mut *s, &v, key, &str1(1), reader(args, 2)))).transpose()?)
        }
        ("fpe_encrypt", true) => {
            opt(middle(f, wit(f, masks.call_fpe_encrypt_batch(&mut *s, &around(a0), key, &str1(1), reader(args, 2)))?))
        }
        ("fpe_decrypt", false) => {
            opt(a0.map(|v| wit(f, masks.call_fpe_decrypt(&mut *s, &v, key, &str1(1), reader(args, 2)))).transpose()?)
        }
        ("fpe_decrypt", true) => {
            opt(middle(f, wit(f, masks.call_fpe_decrypt_batch(&mut *s, &around(a0), key, &str1(1), reader(args, 2)))?))
        }
        ("token_mask", false) => {
            opt(a0.map(|v| wit(f, masks.call_token_mask(&mut *s, &v, key, &str1(1), reader(args, 2)))).transpose()?)
        }
        ("token_mask", true) => {
            opt(middle(f, wit(f, masks.call_token_mask_batch(&mut *s, &around(a0), key, &str1(1), reader(args, 2)))?))
        }
        ("token_unmask", false) => {
            opt(a0.map(|v| wit(f, masks.call_token_unmask(&mut *s, &v, key, &str1(1), reader(args, 2)))).transpose()?)
        }
        ("token_unmask", true) => {
            opt(middle(f, wit(f, masks.call_token_unmask_batch(&mut *s, &around(a0), key, &str1(1), reader(args, 2)))?))
        }
        // A NULL in a non-column argument is SQL NULL: the UDF host answers NULL
        // without calling (functions are RETURNS NULL ON NULL INPUT).
        ("tag_match", false) => match (a0, text(&args[1])) {
            (Some(u), Some(t)) => json!(unwrap_call(f, rows_.call_tag_matches(&mut *s, &u, &t))),
            _ => Value::Null,
        },
        ("tag_match", true) => match a0 {
            Some(u) => {
                opt(middle(f, unwrap_call(f, rows_.call_tag_matches_batch(&mut *s, &u, &around(text(&args[1]))))))
            }
            None => Value::Null,
        },
        ("attribute_in", _) => {
            let values: Vec<String> =
                args[1].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
            let hierarchical = args[2].as_bool().unwrap();
            if batch {
                opt(middle(
                    f,
                    unwrap_call(f, rows_.call_attribute_in_batch(&mut *s, &around(a0), &values, hierarchical)),
                ))
            } else {
                opt(a0.map(|v| unwrap_call(f, rows_.call_attribute_in(&mut *s, &v, &values, hierarchical))))
            }
        }
        ("in_window", _) => {
            let (now, window) = (args[1].as_i64().unwrap(), args[2].as_i64().unwrap());
            if batch {
                opt(middle(
                    f,
                    unwrap_call(f, rows_.call_in_window_batch(&mut *s, &around(args[0].as_i64()), now, window)),
                ))
            } else {
                opt(args[0].as_i64().map(|t| unwrap_call(f, rows_.call_in_window(&mut *s, t, now, window))))
            }
        }
        ("in_sample", false) => {
            let percent = args[2].as_f64().unwrap();
            // The percent is checked even for NULL, as natively.
            let probe =
                wit(f, rows_.call_in_sample(&mut *s, a0.as_deref().unwrap_or(""), key, &str1(1), None, percent))?;
            opt(a0.map(|_| probe))
        }
        ("in_sample", true) => {
            let percent = args[2].as_f64().unwrap();
            opt(middle(f, wit(f, rows_.call_in_sample_batch(&mut *s, &around(a0), key, &str1(1), None, percent))?))
        }
        (other, _) => panic!("no component export for shared vector function `{other}`"),
    })
}

#[test]
fn component_is_pure_small_and_versioned() {
    let mut h = host();
    assert!(h.imports.is_empty(), "the component imports {:?}; it must import nothing", h.imports);
    assert!(h.size < 2 << 20, "dist/veil.wasm is {} bytes; the budget is 2 MiB", h.size);
    let version = unwrap_call("abi-version", h.veil.call_abi_version(&mut h.store));
    assert_eq!(version, 1, "abi-version of veil:udf@0.1.0");
}

#[test]
fn shared_vectors_scalar_and_batch() {
    let v = vectors::load().unwrap();
    let mut h = host();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &v.cases {
        for batch in [false, true] {
            let got = run(&mut h, &v.key_hex, &case.function, &case.args, batch).map(stored);
            checked += 1;
            if got != case.expected {
                let form = if batch { "batch" } else { "scalar" };
                failures.push(format!(
                    "{} ({form}) {:?}: expected {:?}, got {got:?}",
                    case.function, case.args, case.expected
                ));
            }
        }
    }
    assert!(checked >= 200, "only {checked} checks ran");
    assert!(
        failures.is_empty(),
        "{} of {checked} component checks differ from native:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every function `wit/veil.wit` exports; the test below calls each of them.
const EXPORTS: &[&str] = &[
    "abi-version",
    "hash",
    "hash-batch",
    "mask-regex",
    "mask-regex-batch",
    "reveal",
    "reveal-batch",
    "email-mask",
    "email-mask-batch",
    "round-int",
    "round-int-batch",
    "round-float",
    "round-float-batch",
    "round-places",
    "round-places-batch",
    "trunc-date",
    "trunc-date-batch",
    "trunc-timestamp",
    "trunc-timestamp-batch",
    "trunc-iso",
    "trunc-iso-batch",
    "fpe-encrypt",
    "fpe-encrypt-batch",
    "fpe-decrypt",
    "fpe-decrypt-batch",
    "token-mask",
    "token-mask-batch",
    "token-unmask",
    "token-unmask-batch",
    "tag-matches",
    "tag-matches-batch",
    "attribute-in",
    "attribute-in-batch",
    "in-window",
    "in-window-batch",
    "in-sample",
    "in-sample-batch",
];

#[test]
fn every_wit_function_is_covered() {
    let wit = std::fs::read_to_string(veil_tests::repo_root().join("wit/veil.wit")).unwrap();
    let declared: BTreeSet<&str> = wit
        .lines()
        .filter_map(|l| l.trim().split_once(": func("))
        .map(|(name, _)| name.trim_start_matches("export "))
        .collect();
    let covered: BTreeSet<&str> = EXPORTS.iter().copied().collect();
    assert_eq!(declared, covered, "wit/veil.wit and this test's export list differ: test the new function");
}

/// Inputs for the generated checks: NULLs, empty, non-ASCII, digits, e-mails.
fn column(n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|i| match i % 7 {
            0 => None,
            1 => Some(String::new()),
            2 => Some(format!("user{i}@example.com")),
            3 => Some(format!("Zoë Ünal 東京 {i:06}")),
            4 => Some(format!("4111-1111-{:04}-{:04}", i % 10_000, (i * 7) % 10_000)),
            5 => Some(format!("Sports.Football.{i}")),
            _ => Some(format!("ACCT-{i:08}-XYZQW")),
        })
        .collect()
}

fn refs(values: &[Option<String>]) -> Vec<Option<&str>> {
    values.iter().map(|v| v.as_deref()).collect()
}

fn bytes(values: &[Option<String>]) -> Vec<Option<&[u8]>> {
    values.iter().map(|v| v.as_deref().map(str::as_bytes)).collect()
}

#[test]
fn every_export_matches_native() {
    let v = vectors::load().unwrap();
    let key_hex = v.key_hex.as_str();
    let key = Key::from_hex(key_hex).unwrap();
    let mut h = host();
    let s = &mut h.store;
    let masks = h.veil.veil_udf_masks();
    let rows_ = h.veil.veil_udf_rows();
    let col = column(2048);
    let col_refs = refs(&col);
    // Scopes with and without a reader; the reader must change keyed outputs.
    for (scope_text, reader) in
        [("shop.customers", None), ("project:growth", Some("bob")), ("source:hr.people", Some("Zoë"))]
    {
        let scope = match reader {
            Some(r) => Scope::parse(scope_text).for_reader(r),
            None => Scope::parse(scope_text),
        };
        let hashes = masks.call_hash_batch(&mut *s, &col, key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(hashes, mask::keyed_hash_batch(&key, &scope, &bytes(&col)), "hash-batch {scope_text} {reader:?}");
        let one = masks.call_hash(&mut *s, "alice@example.com", key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(one, mask::keyed_hash(&key, &scope, b"alice@example.com"), "hash");

        let tokens = masks.call_token_mask_batch(&mut *s, &col, key_hex, scope_text, reader).unwrap().unwrap();
        let tokenizer = mask::Tokenizer::new(&key, &scope);
        assert_eq!(tokens, tokenizer.mask_batch(&bytes(&col)), "token-mask-batch");
        let back = masks.call_token_unmask_batch(&mut *s, &tokens, key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(back, col, "token-unmask-batch round trip");
        let token = masks.call_token_mask(&mut *s, "東京", key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(token, tokenizer.mask("東京".as_bytes()), "token-mask");
        assert_eq!(masks.call_token_unmask(&mut *s, &token, key_hex, scope_text, reader).unwrap().unwrap(), "東京");

        // FPE needs enough digits and letters: use the card-number and account rows.
        let fpe_col: Vec<Option<String>> =
            col.iter().enumerate().map(|(i, v)| if i % 7 == 4 || i % 7 == 6 { v.clone() } else { None }).collect();
        let fp = mask::FormatPreserving::new(&key, &scope);
        let enc = masks.call_fpe_encrypt_batch(&mut *s, &fpe_col, key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(enc, fp.encrypt_batch(&refs(&fpe_col)).unwrap(), "fpe-encrypt-batch");
        let dec = masks.call_fpe_decrypt_batch(&mut *s, &enc, key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(dec, fpe_col, "fpe-decrypt-batch round trip");
        let one = masks.call_fpe_encrypt(&mut *s, "123-45-6789", key_hex, scope_text, reader).unwrap().unwrap();
        assert_eq!(one, fp.encrypt("123-45-6789").unwrap(), "fpe-encrypt");
        assert_eq!(masks.call_fpe_decrypt(&mut *s, &one, key_hex, scope_text, reader).unwrap().unwrap(), "123-45-6789");

        let sampler = rows::Sampler::new(&key, &scope, 25.0).unwrap();
        let sampled = rows_.call_in_sample_batch(&mut *s, &col, key_hex, scope_text, reader, 25.0).unwrap().unwrap();
        assert_eq!(sampled, sampler.contains_batch(&bytes(&col)), "in-sample-batch");
        let one = rows_.call_in_sample(&mut *s, "order-42", key_hex, scope_text, reader, 25.0).unwrap().unwrap();
        assert_eq!(one, sampler.contains(b"order-42"), "in-sample");
    }

    // A bad key is an `invalid-key` error from every keyed function, never a trap.
    let bad = "zz".repeat(32);
    let scope = "shop.customers";
    let errors: Vec<(&str, Result<(), WitError>)> = vec![
        ("hash", masks.call_hash(&mut *s, "a", &bad, scope, None).unwrap().map(drop)),
        ("hash-batch", masks.call_hash_batch(&mut *s, &col, &bad, scope, None).unwrap().map(drop)),
        ("fpe-encrypt", masks.call_fpe_encrypt(&mut *s, "123456", &bad, scope, None).unwrap().map(drop)),
        ("fpe-decrypt", masks.call_fpe_decrypt(&mut *s, "123456", "abc", scope, None).unwrap().map(drop)),
        ("token-mask", masks.call_token_mask(&mut *s, "a", &bad, scope, None).unwrap().map(drop)),
        ("token-unmask-batch", masks.call_token_unmask_batch(&mut *s, &col, "", scope, None).unwrap().map(drop)),
        ("in-sample", rows_.call_in_sample(&mut *s, "a", &bad, scope, None, 5.0).unwrap().map(drop)),
    ];
    for (function, result) in errors {
        let native = Key::from_hex(&bad).unwrap_err().kind();
        assert!(matches!(&result, Err(e) if kind(e) == native), "{function} with a bad key gave {result:?}");
    }

    // Unkeyed masks over the same column.
    let regex = mask::RegexMask::new(r"\d", "#").unwrap();
    assert_eq!(masks.call_mask_regex_batch(&mut *s, &col, r"\d", "#").unwrap().unwrap(), regex.apply_batch(&col_refs));
    assert_eq!(masks.call_mask_regex(&mut *s, "Zoë 123", r"(\w+) (\d+)", "$2 $1").unwrap().unwrap(), "123 Zoë");
    for (keep, native) in [(Keep::First(3), CoreKeep::First(3)), (Keep::Last(4), CoreKeep::Last(4))] {
        assert_eq!(
            masks.call_reveal_batch(&mut *s, &col, keep, '•').unwrap(),
            mask::reveal_batch(&col_refs, native, '•')
        );
        assert_eq!(masks.call_reveal(&mut *s, "Zoë Ünal", keep, '*').unwrap(), mask::reveal("Zoë Ünal", native, '*'));
    }
    assert_eq!(masks.call_email_mask_batch(&mut *s, &col).unwrap(), mask::email_mask_batch(&col_refs));
    assert_eq!(masks.call_email_mask(&mut *s, "zoë@例え.jp").unwrap(), mask::email_mask("zoë@例え.jp"));

    let ints: Vec<Option<i64>> =
        (0..2048i64).map(|i| if i % 5 == 0 { None } else { Some((i - 1024) * 7_919 * 1_000_003) }).collect();
    let native: Vec<Option<i64>> = ints.iter().map(|v| v.map(|v| mask::round_int(v, 1000).unwrap())).collect();
    assert_eq!(masks.call_round_int_batch(&mut *s, &ints, 1000).unwrap().unwrap(), native);
    assert_eq!(masks.call_round_int(&mut *s, i64::MIN, 7).unwrap().unwrap(), mask::round_int(i64::MIN, 7).unwrap());
    assert_eq!(kind(&masks.call_round_int_batch(&mut *s, &ints, -1).unwrap().unwrap_err()), "invalid_argument");

    let floats: Vec<Option<f64>> = (0..2048)
        .map(|i| match i % 6 {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(f64::INFINITY),
            3 => Some(-0.0),
            _ => Some(f64::from(i) * 1.337_7 - 900.0),
        })
        .collect();
    let bits = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
    let bucket = mask::FloatBucket::new(0.05).unwrap();
    let got = masks.call_round_float_batch(&mut *s, &floats, 0.05).unwrap().unwrap();
    assert_eq!(bits(&got), bits(&bucket.apply_batch(&floats)), "round-float-batch, bit for bit");
    assert_eq!(masks.call_round_float(&mut *s, 12.3456, 0.01).unwrap().unwrap().to_bits(), 12.35f64.to_bits());
    assert_eq!(kind(&masks.call_round_float(&mut *s, 1.0, f64::NAN).unwrap().unwrap_err()), "invalid_argument");
    let got = masks.call_round_places_batch(&mut *s, &floats, -1).unwrap();
    let native: Vec<Option<f64>> = floats.iter().map(|v| v.map(|v| mask::round_places(v, -1))).collect();
    assert_eq!(bits(&got), bits(&native), "round-places-batch, bit for bit");
    assert_eq!(masks.call_round_places(&mut *s, 2.675, 2).unwrap().to_bits(), mask::round_places(2.675, 2).to_bits());

    for unit_text in ["minute", "hour", "day", "month", "quarter", "year", "Quarter "] {
        let unit = DateUnit::parse(unit_text).unwrap();
        let days: Vec<Option<i32>> = (0..2048).map(|i| if i % 9 == 0 { None } else { Some(i * 37 - 40_000) }).collect();
        let native: Vec<Option<i32>> = days.iter().map(|d| d.map(|d| mask::trunc_date_days(d, unit))).collect();
        assert_eq!(masks.call_trunc_date_batch(&mut *s, &days, unit_text).unwrap().unwrap(), native, "{unit_text}");
        assert_eq!(
            masks.call_trunc_date(&mut *s, -719_162, unit_text).unwrap().unwrap(),
            mask::trunc_date_days(-719_162, unit)
        );
        let micros: Vec<Option<i64>> =
            (0..2048i64).map(|i| if i % 9 == 0 { None } else { Some((i - 1000) * 86_399_999_937) }).collect();
        let native: Vec<Option<i64>> =
            micros.iter().map(|t| t.map(|t| mask::trunc_timestamp_micros(t, unit))).collect();
        assert_eq!(masks.call_trunc_timestamp_batch(&mut *s, &micros, unit_text).unwrap().unwrap(), native);
        assert_eq!(
            // Not i64::MIN: veil-core's minute/hour/day floor overflows there (reported).
            masks.call_trunc_timestamp(&mut *s, i64::MIN / 2, unit_text).unwrap().unwrap(),
            mask::trunc_timestamp_micros(i64::MIN / 2, unit)
        );
        let isos: Vec<Option<String>> =
            ["2024-02-29", "2024-05-17T12:50:45.5Z", "1969-12-31 23:59:59-05:00", "0001-01-01T00:00"]
                .iter()
                .map(|t| Some((*t).to_owned()))
                .chain([None])
                .collect();
        let native = mask::trunc_iso_batch(&refs(&isos), unit).unwrap();
        assert_eq!(masks.call_trunc_iso_batch(&mut *s, &isos, unit_text).unwrap().unwrap(), native);
        assert_eq!(
            masks.call_trunc_iso(&mut *s, "2024-11-30T23:59", unit_text).unwrap().unwrap(),
            mask::trunc_iso("2024-11-30T23:59", unit).unwrap()
        );
    }
    assert_eq!(kind(&masks.call_trunc_iso_batch(&mut *s, &col, "day").unwrap().unwrap_err()), "parse");
    assert_eq!(kind(&masks.call_trunc_timestamp_batch(&mut *s, &[], "week").unwrap().unwrap_err()), "invalid_argument");

    // Row predicates.
    let tags: Vec<Option<String>> = ["Sports", "Sports.Football", "Sports.Footballer", "Gym", "", "Sports.Football.QB"]
        .iter()
        .map(|t| Some((*t).to_owned()))
        .chain([None])
        .collect();
    for user in ["Sports.Football", "Sports", "", "Gym.Trapeze"] {
        let native: Vec<Option<bool>> = tags.iter().map(|t| t.as_deref().map(|t| rows::tag_matches(user, t))).collect();
        assert_eq!(rows_.call_tag_matches_batch(&mut *s, user, &tags).unwrap(), native, "tag-matches-batch {user}");
        assert_eq!(
            rows_.call_tag_matches(&mut *s, user, "Sports.Football.QB").unwrap(),
            rows::tag_matches(user, "Sports.Football.QB")
        );
    }
    let states = vec!["Ohio".to_owned(), "Michigan".to_owned()];
    let places: Vec<Option<String>> = ["Ohio", "Ohio.Columbus", "Texas", "ohio", "Michigan.Detroit"]
        .iter()
        .map(|t| Some((*t).to_owned()))
        .chain([None])
        .collect();
    for hierarchical in [false, true] {
        let native: Vec<Option<bool>> =
            places.iter().map(|p| p.as_deref().map(|p| rows::attribute_in(p, &states, hierarchical))).collect();
        assert_eq!(rows_.call_attribute_in_batch(&mut *s, &places, &states, hierarchical).unwrap(), native);
        assert_eq!(
            rows_.call_attribute_in(&mut *s, "Ohio.Columbus", &states, hierarchical).unwrap(),
            rows::attribute_in("Ohio.Columbus", &states, hierarchical)
        );
    }
    let times: Vec<Option<i64>> =
        [i64::MIN, -1, 0, 5, 9, 10, i64::MAX].iter().map(|t| Some(*t)).chain([None]).collect();
    for (now, window) in [(10, 5), (i64::MIN, 1), (0, i64::MAX), (10, -1)] {
        let native: Vec<Option<bool>> = times.iter().map(|t| t.map(|t| rows::in_window(t, now, window))).collect();
        assert_eq!(rows_.call_in_window_batch(&mut *s, &times, now, window).unwrap(), native);
        assert_eq!(rows_.call_in_window(&mut *s, 7, now, window).unwrap(), rows::in_window(7, now, window));
    }
    assert_eq!(
        kind(&rows_.call_in_sample_batch(&mut *s, &col, key_hex, scope, None, -0.5).unwrap().unwrap_err()),
        "invalid_argument"
    );
}

#[test]
fn one_mebibyte_values_round_trip() {
    let v = vectors::load().unwrap();
    let key = Key::from_hex(&v.key_hex).unwrap();
    let scope = Scope::parse("shop.customers");
    let mut h = host();
    let s = &mut h.store;
    let masks = h.veil.veil_udf_masks();
    let big = "Zoë 東京 4111 ".repeat(70_000); // > 1 MiB of mixed UTF-8
    assert!(big.len() > 1 << 20);
    let token = masks.call_token_mask(&mut *s, &big, &v.key_hex, "shop.customers", None).unwrap().unwrap();
    assert_eq!(token, mask::Tokenizer::new(&key, &scope).mask(big.as_bytes()));
    assert_eq!(masks.call_token_unmask(&mut *s, &token, &v.key_hex, "shop.customers", None).unwrap().unwrap(), big);
    let masked = masks.call_mask_regex(&mut *s, &big, r"\p{Han}+", "漢").unwrap().unwrap();
    assert_eq!(masked, mask::regex_mask(&big, r"\p{Han}+", "漢").unwrap());
}
