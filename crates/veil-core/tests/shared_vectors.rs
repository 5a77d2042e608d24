//! The shared vectors in `tests/vectors/core.json`, run natively.
//!
//! Every engine runs the same file; this test is the reference. With
//! `VEIL_BLESS=1` it rewrites the expected outputs instead of checking them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use veil_core::mask::{self, DateUnit, Keep};
use veil_core::{rows, Key, Scope};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/core.json");
/// Outputs longer than this are stored as their SHA-256.
const INLINE_LIMIT: usize = 256;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => Some(o["repeat"].as_str().unwrap().repeat(o["times"].as_u64().unwrap() as usize)),
        other => panic!("not a text input: {other}"),
    }
}

fn scope(args: &[Value], at: usize) -> Scope {
    let s = Scope::parse(args[at].as_str().unwrap());
    match args.get(at + 1).and_then(Value::as_str) {
        Some(reader) => s.for_reader(reader),
        None => s,
    }
}

fn opt<T>(v: Option<T>) -> Value
where
    Value: From<T>,
{
    v.map_or(Value::Null, Value::from)
}

/// Run one case: the JSON output, or the error's kind.
fn run(key: &Key, f: &str, args: &[Value]) -> Result<Value, &'static str> {
    let a0 = text_or_null(&args[0]);
    let r: veil_core::Result<Value> = (|| {
        Ok(match f {
            "hash" => opt(a0.map(|v| mask::keyed_hash(key, &scope(args, 1), v.as_bytes()))),
            "mask_regex" => {
                let m = mask::RegexMask::new(args[1].as_str().unwrap(), args[2].as_str().unwrap())?;
                opt(a0.map(|v| m.apply(&v).into_owned()))
            }
            "reveal_first" | "reveal_last" => {
                let n = args[1].as_u64().unwrap() as usize;
                let keep = if f == "reveal_first" { Keep::First(n) } else { Keep::Last(n) };
                let fill = args[2].as_str().unwrap().chars().next().unwrap();
                opt(a0.map(|v| mask::reveal(&v, keep, fill)))
            }
            "mask_email" => opt(a0.map(|v| mask::email_mask(&v))),
            "round_int" => {
                let width = args[1].as_i64().unwrap();
                opt(args[0].as_i64().map(|v| mask::round_int(v, width)).transpose()?)
            }
            "round_float" => {
                let bucket = mask::FloatBucket::new(args[1].as_f64().unwrap())?;
                opt(args[0].as_f64().map(|v| bucket.apply(v)))
            }
            "round_places" => {
                let places = args[1].as_i64().unwrap() as i32;
                opt(args[0].as_f64().map(|v| mask::round_places(v, places)))
            }
            "trunc_date" => {
                let unit = DateUnit::parse(args[1].as_str().unwrap())?;
                opt(args[0].as_i64().map(|d| mask::trunc_date_days(d as i32, unit)))
            }
            "trunc_timestamp" => {
                let unit = DateUnit::parse(args[1].as_str().unwrap())?;
                opt(args[0].as_i64().map(|t| mask::trunc_timestamp_micros(t, unit)))
            }
            "trunc_iso" => {
                let unit = DateUnit::parse(args[1].as_str().unwrap())?;
                opt(a0.map(|v| mask::trunc_iso(&v, unit)).transpose()?)
            }
            "fpe_encrypt" | "fpe_decrypt" => {
                let fp = mask::FormatPreserving::new(key, &scope(args, 1));
                let out = a0.map(|v| if f == "fpe_encrypt" { fp.encrypt(&v) } else { fp.decrypt(&v) });
                opt(out.transpose()?)
            }
            "token_mask" => {
                let t = mask::Tokenizer::new(key, &scope(args, 1));
                opt(a0.map(|v| t.mask(v.as_bytes())))
            }
            "token_unmask" => {
                let t = mask::Tokenizer::new(key, &scope(args, 1));
                opt(a0.map(|v| t.unmask(&v).map(|b| String::from_utf8(b).unwrap())).transpose()?)
            }
            "tag_match" => match (a0, text_or_null(&args[1])) {
                (Some(u), Some(t)) => json!(rows::tag_matches(&u, &t)),
                _ => Value::Null,
            },
            "attribute_in" => {
                let values: Vec<&str> = args[1].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                let hierarchical = args[2].as_bool().unwrap();
                opt(a0.map(|v| rows::attribute_in(&v, &values, hierarchical)))
            }
            "in_window" => {
                let (now, window) = (args[1].as_i64().unwrap(), args[2].as_i64().unwrap());
                opt(args[0].as_i64().map(|t| rows::in_window(t, now, window)))
            }
            "in_sample" => {
                let sampler = rows::Sampler::new(key, &scope(args, 1), args[2].as_f64().unwrap())?;
                opt(a0.map(|k| sampler.contains(k.as_bytes())))
            }
            other => panic!("unknown function `{other}` in the shared vectors"),
        })
    })();
    r.map_err(|e| e.kind())
}

/// Text inputs (strings, `{repeat, times}`); other JSON values read as absent.
fn text_or_null(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Object(_) | Value::Null => text(v),
        _ => None,
    }
}

/// Store long strings as their digest.
fn stored(output: Value) -> (&'static str, Value) {
    match &output {
        Value::String(s) if s.len() > INLINE_LIMIT => ("output_sha256", json!(hex(&Sha256::digest(s.as_bytes())))),
        _ => ("output", output),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn shared_vectors() {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let key = Key::from_hex(doc["key"].as_str().unwrap()).unwrap();
    let bless = std::env::var_os("VEIL_BLESS").is_some();
    let mut failures = Vec::new();
    for case in doc["cases"].as_array_mut().unwrap() {
        let f = case["fn"].as_str().unwrap().to_owned();
        let args = case["args"].as_array().unwrap().clone();
        let got = run(&key, &f, &args);
        let obj = case.as_object_mut().unwrap();
        if bless {
            for k in ["output", "output_sha256", "error"] {
                obj.remove(k);
            }
            match got {
                Ok(v) => {
                    let (k, v) = stored(v);
                    obj.insert(k.into(), v);
                }
                Err(kind) => {
                    obj.insert("error".into(), json!(kind));
                }
            }
            continue;
        }
        let expected = if let Some(e) = obj.get("error") {
            Err(e.as_str().unwrap().to_owned())
        } else if let Some(d) = obj.get("output_sha256") {
            Ok(("output_sha256", d.clone()))
        } else {
            Ok(("output", obj.get("output").cloned().expect("case without output or error: bless first")))
        };
        let got = got.map(stored).map_err(str::to_owned);
        if got != expected {
            failures.push(format!("{f}{args:?}: expected {expected:?}, got {got:?}"));
        }
    }
    if bless {
        std::fs::write(PATH, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        return;
    }
    assert!(failures.is_empty(), "{} shared vectors failed:\n{}", failures.len(), failures.join("\n"));
}

/// The masks (functions that stand for a value), as opposed to row predicates.
const MASKS: [&str; 13] = [
    "hash",
    "mask_regex",
    "reveal_first",
    "reveal_last",
    "mask_email",
    "round_int",
    "round_float",
    "round_places",
    "trunc_date",
    "trunc_timestamp",
    "trunc_iso",
    "fpe_encrypt",
    "token_mask",
];

/// No mask returns its input unchanged unless a documented rule says so: every
/// case whose output equals its (non-NULL) input names that rule in `same`, and
/// every case naming a rule does return its input. Every engine that runs these
/// vectors gives the same outputs, so this holds on each of them.
#[test]
fn no_mask_returns_its_input_without_a_documented_rule() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let mut same = 0;
    for case in doc["cases"].as_array().unwrap() {
        let f = case["fn"].as_str().unwrap();
        if !MASKS.contains(&f) || case["args"][0].is_null() {
            continue;
        }
        let equal = case.get("output").is_some_and(|out| *out == case["args"][0]);
        let rule = case.get("same").and_then(Value::as_str);
        assert_eq!(equal, rule.is_some(), "{f}{}: output equals input: {equal}, rule: {rule:?}", case["args"]);
        same += usize::from(equal);
    }
    assert!(same >= 8, "the documented rules have vectors ({same})");
}
