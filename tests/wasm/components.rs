//! Components as SQL functions (crates/veil-component-host): what a SQL host sees
//! in `dist/veil.wasm`, the example mask and a hostile component; batch calls
//! agree with per-row calls and with veil-core; every misbehaviour of a component
//! (a loop, a trap, a memory hog, a stack overflow, a broken batch) becomes an
//! error, and the module keeps working after it.
//!
//! Build the components first: `scripts/build-wasm`. A missing file fails these
//! tests; it never skips them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeSet;

use veil_component_host::mask::{self, Arg};
use veil_component_host::runtime::{CallError, Column, Limits, LoadError, Module, Value};
use veil_component_host::{inspect, InspectError};
use veil_core::mask::KeyedHasher;
use veil_core::{Key, Scope};
use veil_tests::repo_root;

fn read(path: &str) -> Vec<u8> {
    let path = repo_root().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-wasm first", path.display()))
}

fn module(path: &str, limits: Limits) -> Module {
    Module::new(&read(path), limits).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `dist/veil.wasm` compiled once per process (the slow part in a debug build).
fn veil() -> &'static Module {
    static VEIL: std::sync::OnceLock<Module> = std::sync::OnceLock::new();
    VEIL.get_or_init(|| module("dist/veil.wasm", Limits::DEFAULT))
}

fn index(m: &Module, name: &str) -> usize {
    m.functions().iter().position(|f| f.name == name).unwrap_or_else(|| panic!("no `{name}`"))
}

fn text(s: &str) -> Option<Value> {
    Some(Value::Text(s.into()))
}

#[test]
fn veil_wasm_exports_map_to_sql_functions_with_batch_forms() {
    let exports = inspect(&read("dist/veil.wasm")).unwrap();
    let names: BTreeSet<&str> = exports.functions.iter().map(|f| f.name.as_str()).collect();
    let expected = [
        "abi-version",
        "hash",
        "mask-regex",
        "email-mask",
        "round-int",
        "round-float",
        "round-places",
        "trunc-date",
        "trunc-timestamp",
        "trunc-iso",
        "fpe-encrypt",
        "fpe-decrypt",
        "token-mask",
        "token-unmask",
        "tag-matches",
        "attribute-in",
        "in-window",
        "in-sample",
    ];
    assert_eq!(names, expected.into_iter().collect());
    for f in &exports.functions {
        let batched = !matches!(f.name.as_str(), "abi-version" | "tag-matches");
        assert_eq!(f.batch.is_some(), batched, "{}: {:?}", f.name, f.batch);
    }
    let hash = exports.function("hash").unwrap();
    assert_eq!(
        hash.wit(),
        "func(value: string, key-hex: string, scope: string, reader: option<string>) -> result<string, error>"
    );
    assert_eq!(hash.interface.as_deref(), Some("veil:udf/masks@0.1.0"));
    assert_eq!(hash.sql_name("w"), "w_hash");
    // `reveal` takes a variant; `tag-matches-batch` batches its second parameter.
    let skipped: BTreeSet<&str> = exports.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["reveal", "reveal-batch", "tag-matches-batch"].into_iter().collect());
    let reveal = exports.skipped.iter().find(|s| s.name == "reveal").unwrap();
    assert!(reveal.reason.contains("`variant keep`, which has no SQL type"), "{}", reveal.reason);
}

#[test]
fn a_component_with_imports_is_refused() {
    let bytes = read("dist/test/hostile-import.wasm");
    assert_eq!(inspect(&bytes), Err(InspectError::Imports(vec!["`now`".into()])));
    let err = Module::new(&bytes, Limits::DEFAULT).unwrap_err();
    assert!(matches!(err, LoadError::Inspect(InspectError::Imports(_))));
    assert!(err.to_string().contains("must import nothing (no files, clocks or network)"), "{err}");
    for not_a_component in [&b"\0asm\x01\0\0\0"[..], b"garbage", &read("dist/singlestore/veil-lite.wasm")] {
        assert!(matches!(inspect(not_a_component), Err(InspectError::NotAComponent(_))));
    }
}

/// Batch calls split into runs of equal arguments give each row what veil-core
/// gives it: scopes changing mid-chunk, NULLs in values and in scopes.
#[test]
fn batch_runs_agree_with_veil_core_row_by_row() {
    let m = veil();
    let hash = index(m, "hash");
    let key_hex = "0f".repeat(32);
    let key = Key::from_hex(&key_hex).unwrap();
    let rows = 300;
    let values: Vec<Option<Value>> =
        (0..rows).map(|i| if i % 7 == 3 { None } else { text(&format!("user{i}@example.com")) }).collect();
    let scopes: Vec<Option<Value>> = (0..rows)
        .map(|i| match i / 50 {
            2 => None,
            n if n % 2 == 0 => text("shop.customers"),
            _ => text("shop.orders"),
        })
        .collect();
    let args = vec![
        Column::Rows(values.clone()),
        Column::Constant(text(&key_hex)),
        Column::Rows(scopes.clone()),
        Column::Constant(text("bob")),
    ];
    let out = m.call(hash, args, rows).unwrap();
    for (i, got) in out.iter().enumerate() {
        let expected = match (&values[i], &scopes[i]) {
            (Some(Value::Text(v)), Some(Value::Text(s))) => {
                Some(Value::Text(KeyedHasher::new(&key, &Scope::parse(s).for_reader("bob")).hash_hex(v.as_bytes())))
            }
            _ => None,
        };
        assert_eq!(got, &expected, "row {i}");
    }
    // The optional reader left out: the component sees `none`, as the 3-argument form.
    let three = vec![
        Column::Rows(values),
        Column::Constant(text(&key_hex)),
        Column::Constant(text("shop.customers")),
        Column::Absent,
    ];
    let out = m.call(hash, three, rows).unwrap();
    let plain = KeyedHasher::new(&key, &Scope::parse("shop.customers")).hash_hex(b"user0@example.com");
    assert_eq!(out[0], Some(Value::Text(plain)));
}

#[test]
fn errors_inside_the_component_keep_their_kind() {
    let m = veil();
    let fpe = index(m, "fpe-encrypt");
    let args = vec![
        Column::Constant(text("12")),
        Column::Constant(text(&"0f".repeat(32))),
        Column::Constant(text("s")),
        Column::Absent,
    ];
    let err = m.call(fpe, args, 1).unwrap_err();
    assert_eq!(err.kind(), "fpe_domain", "{err}");
    let bad_key = vec![
        Column::Constant(text("x")),
        Column::Constant(text("nothex")),
        Column::Constant(text("s")),
        Column::Absent,
    ];
    assert_eq!(m.call(index(m, "hash"), bad_key, 1).unwrap_err().kind(), "invalid_key");
    // A value that does not fit the WIT type (u32, s32) is an argument error, not a wrap.
    let places = vec![Column::Constant(Some(Value::Float(1.5))), Column::Constant(Some(Value::Int(1 << 40)))];
    let err = m.call(index(m, "round-places"), places, 1).unwrap_err();
    assert_eq!(err.kind(), "invalid_argument", "{err}");
    // Left out: only an `option` parameter; and every parameter needs a column.
    let wrong = vec![Column::Constant(text("x")), Column::Absent, Column::Constant(text("s")), Column::Absent];
    assert_eq!(m.call(index(m, "hash"), wrong, 1).unwrap_err().kind(), "host");
    assert_eq!(m.call(index(m, "hash"), vec![Column::Constant(text("x"))], 1).unwrap_err().kind(), "host");
}

fn hostile(limits: Limits) -> Module {
    module("dist/test/hostile.wasm", limits)
}

fn one(m: &Module, name: &str, value: Value) -> Result<Option<Value>, CallError> {
    m.call(index(m, name), vec![Column::Constant(Some(value))], 1).map(|mut out| out.remove(0))
}

#[test]
fn a_loop_runs_out_of_fuel_and_the_module_keeps_working() {
    let limits = Limits { fuel_per_call: 4_000_000, fuel_per_row: 1_000_000, ..Limits::DEFAULT };
    let m = hostile(limits);
    let started = std::time::Instant::now();
    let err = one(&m, "spin", Value::Text("x".into())).unwrap_err();
    // One call of one row of one byte: 4 million, 1 million and 4096.
    assert!(matches!(err, CallError::Fuel(5_004_096)), "{err}");
    assert_eq!(limits.fuel(1, 1), 5_004_096);
    assert_eq!(err.kind(), "fuel");
    assert!(started.elapsed().as_secs() < 30, "the loop was stopped by fuel, not by time");
    assert_eq!(one(&m, "echo", Value::Text("still here".into())).unwrap(), text("still here"));
}

#[test]
fn traps_memory_and_stack_become_errors() {
    let m = hostile(Limits { memory_bytes: 16 << 20, ..Limits::DEFAULT });
    let crash = one(&m, "crash", Value::Text("x".into())).unwrap_err();
    assert!(matches!(crash, CallError::Trap(_)), "{crash}");
    assert!(crash.to_string().contains("unreachable"), "{crash}");
    let hog = one(&m, "hog", Value::Int(64)).unwrap_err();
    assert!(matches!(hog, CallError::Memory(n) if n == 16 << 20), "{hog}");
    assert_eq!(hog.to_string(), "the component needed more than 16 MiB of memory");
    // Within the limit the same export works.
    assert_eq!(one(&m, "hog", Value::Int(4)).unwrap(), Some(Value::Int(4 << 20)));
    let deep = one(&m, "deep", Value::Int(10_000_000)).unwrap_err();
    assert!(matches!(&deep, CallError::Trap(t) if t.contains("call stack exhausted")), "{deep}");
    assert_eq!(one(&m, "deep", Value::Int(100)).unwrap(), Some(Value::Int(100)));
    let fail = one(&m, "fail", Value::Text("abc".into())).unwrap_err();
    assert_eq!((fail.kind(), fail.to_string().as_str()), ("parse", "cannot read a value of 3 bytes"));
    assert_eq!(one(&m, "echo", Value::Text("ok".into())).unwrap(), text("ok"));
}

#[test]
fn a_broken_batch_is_an_error_and_null_stays_null() {
    let m = hostile(Limits::DEFAULT);
    let values = Column::Rows(vec![text("a"), None, text("c")]);
    let short = m.call(index(&m, "short"), vec![values.clone()], 3).unwrap_err();
    assert!(matches!(short, CallError::Contract(_)), "{short}");
    assert!(short.to_string().contains("3 values in, 2 out"), "{short}");
    let filled = m.call(index(&m, "fill"), vec![values], 3).unwrap();
    assert_eq!(filled, vec![text("a"), None, text("c")]);
}

#[test]
fn threads_calling_at_once_each_get_an_instance() {
    let m = hostile(Limits::DEFAULT);
    let echo = index(&m, "echo");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let m = &m;
                s.spawn(move || {
                    for i in 0..200 {
                        let value = format!("{t}-{i}");
                        let out = m.call(echo, vec![Column::Constant(text(&value))], 2).unwrap();
                        assert_eq!(out, vec![text(&value), text(&value)]);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn the_example_mask_meets_the_contract() {
    let exports = inspect(&read("dist/masks/iban.wasm")).unwrap();
    let redact = mask::check(&exports, "redact-iban").unwrap();
    assert_eq!(redact.batch.as_deref(), Some("redact-iban-batch"));
    mask::check_params(redact, &[]).unwrap();
    let masked = mask::check(&exports, "mask-iban").unwrap();
    let params = [("keep-last".to_owned(), Arg::Int(2)), ("fill".to_owned(), Arg::Text("*".into()))];
    mask::check_params(masked, &params).unwrap();
    let swapped = [params[1].clone(), params[0].clone()];
    assert!(mask::check_params(masked, &swapped)
        .unwrap_err()
        .contains("in the order of its signature: `keep-last`, `fill`"));
    let wide = [params[0].clone(), ("fill".to_owned(), Arg::Text("**".into()))];
    assert!(mask::check_params(masked, &wide).unwrap_err().contains("`fill` of `mask-iban` is `char`"));
    let unknown = mask::check_params(redact, &[("keep".into(), Arg::Int(1))]).unwrap_err();
    assert_eq!(unknown, "`redact-iban` takes no parameters besides the value, not `keep`");

    let m = module("dist/masks/iban.wasm", Limits::DEFAULT);
    let values = Column::Rows(vec![text("DE89 3704 0044 0532 0130 00"), None, text("DE00 0000")]);
    let out = m.call(index(&m, "redact-iban"), vec![values], 3).unwrap();
    assert_eq!(out, vec![text("DEXX XXXX XXXX XXXX XX30 00"), None, text("XXXXXXXXX")]);
    let args = vec![
        Column::Constant(text("NL91ABNA0417164300")),
        Column::Constant(Some(Value::Int(5))),
        Column::Constant(text("*")),
    ];
    let err = m.call(index(&m, "mask-iban"), args, 1).unwrap_err();
    assert_eq!(err.kind(), "invalid_argument", "{err}");
}

#[test]
fn exports_that_are_not_masks_are_refused_with_the_reason() {
    let veil = inspect(&read("dist/veil.wasm")).unwrap();
    let hash = mask::check(&veil, "hash").unwrap_err();
    assert!(hash.contains("parameter `reader` must be string, char, bool, s32, s64, u32 or f64"), "{hash}");
    let round = mask::check(&veil, "round-int").unwrap_err();
    assert!(round.contains("its first parameter must be the value, `string`"), "{round}");
    let reveal = mask::check(&veil, "reveal").unwrap_err();
    assert!(reveal.contains("cannot be called from SQL: parameter `keep` is `variant keep`"), "{reveal}");
    let hostile = inspect(&read("dist/test/hostile.wasm")).unwrap();
    let missing = mask::check(&hostile, "redact").unwrap_err();
    assert!(
        missing.starts_with("the component has no export `redact`; it exports `abi-version`, `echo`, `spin`"),
        "{missing}"
    );
    let tag = mask::check(&veil, "tag-matches").unwrap_err();
    assert!(tag.contains("it must return text"), "{tag}");
}
