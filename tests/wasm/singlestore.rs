//! The SingleStore core module `dist/singlestore/veil.wasm` in wasmtime, called
//! exactly as SingleStore's (older, interface-types) canonical ABI prescribes:
//! every `string` argument allocated with `canonical_abi_realloc(0, 0, 1, len)` and
//! passed as `(ptr, len)` (the guest owns and frees it), a `float64` as a core `f64`;
//! a `string` result read through the returned pointer to a `(ptr, len)` pair, then
//! released with `canonical_abi_free(ptr, len, 1)`; a `bool` result as a core `i32`
//! that must be 0 or 1. Compared with veil-core natively on the shared vectors (hash,
//! fpe_encrypt, token_mask, in_sample, mask_regex and mask_email cases).
//!
//! Build the module first: `scripts/build-wasm`. A missing module fails these tests;
//! it never skips them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};
use veil_core::{mask, rows, Key, Scope};
use veil_tests::repo_root;
use veil_tests::vectors::{self, stored, text, Case};
use wasmtime::{Engine, ExternType, Instance, Linker, Memory, Module, Store, TypedFunc};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// SingleStore's default `wasm_max_linear_memory_size`: 16 MiB, 256 pages.
const SINGLESTORE_DEFAULT_PAGES: u64 = 256;

fn module_path() -> PathBuf {
    std::env::var_os("VEIL_SINGLESTORE_MODULE")
        .map_or_else(|| repo_root().join("dist/singlestore/veil.wasm"), PathBuf::from)
}

/// The engine and the compiled module, shared by the tests of this process
/// (compiling the module, regex engine included, is the slow part).
fn compiled() -> &'static (Engine, Module) {
    static COMPILED: OnceLock<(Engine, Module)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let path = module_path();
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read {} ({e}): run scripts/build-wasm first", path.display()));
        let engine = Engine::default();
        let module = Module::new(&engine, &bytes).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        (engine, module)
    })
}

/// Three `(ptr, len)` string arguments, a result-area pointer.
type Strings3 = TypedFunc<(u32, u32, u32, u32, u32, u32), u32>;
/// `veil-hash-reader`: four `(ptr, len)` string arguments, a result-area pointer.
type Strings4 = TypedFunc<(u32, u32, u32, u32, u32, u32, u32, u32), u32>;
/// `veil-in-sample`: three strings and an `f64`; the `bool` as an `i32`.
type InSample = TypedFunc<(u32, u32, u32, u32, u32, u32, f64), i32>;

struct Guest {
    store: Store<()>,
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    free: TypedFunc<(u32, u32, u32), ()>,
    hash: Strings3,
    hash_reader: Strings4,
    fpe_encrypt: Strings3,
    token_mask: Strings3,
    in_sample: InSample,
    regex_replace: Strings3,
    email_mask: TypedFunc<(u32, u32), u32>,
}

impl Guest {
    fn load() -> Self {
        let (engine, module) = compiled();
        let imports: Vec<String> = module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect();
        assert!(imports.is_empty(), "the SingleStore module must import nothing (no WASI): {imports:?}");
        let mut store = Store::new(engine, ());
        // An empty linker: instantiation fails if the module imports anything.
        let instance: Instance = Linker::new(engine).instantiate(&mut store, module).unwrap();
        let memory = instance.get_memory(&mut store, "memory").expect("exports `memory`");
        let mut func = |name: &str| {
            instance.get_func(&mut store, name).unwrap_or_else(|| panic!("the module exports no `{name}`"))
        };
        let (realloc, free) = (func("canonical_abi_realloc"), func("canonical_abi_free"));
        let (hash, hash_reader, fpe_encrypt) = (func("veil-hash"), func("veil-hash-reader"), func("veil-fpe-encrypt"));
        let (token_mask, in_sample) = (func("veil-token-mask"), func("veil-in-sample"));
        let (regex_replace, email_mask) = (func("veil-regex-replace"), func("veil-email-mask"));
        Guest {
            realloc: realloc.typed(&store).unwrap(),
            free: free.typed(&store).unwrap(),
            hash: hash.typed(&store).unwrap(),
            hash_reader: hash_reader.typed(&store).unwrap(),
            fpe_encrypt: fpe_encrypt.typed(&store).unwrap(),
            token_mask: token_mask.typed(&store).unwrap(),
            in_sample: in_sample.typed(&store).unwrap(),
            regex_replace: regex_replace.typed(&store).unwrap(),
            email_mask: email_mask.typed(&store).unwrap(),
            store,
            memory,
        }
    }

    /// Lower one `string`/bytes argument: allocate in the guest and copy.
    fn lower(&mut self, bytes: &[u8]) -> (u32, u32) {
        let len = u32::try_from(bytes.len()).unwrap();
        let ptr = self.realloc.call(&mut self.store, (0, 0, 1, len)).expect("canonical_abi_realloc trapped");
        self.memory.write(&mut self.store, ptr as usize, bytes).unwrap();
        (ptr, len)
    }

    /// Call a function of three `string`s returning a `string`.
    fn strings3(&mut self, name: &str, [a, b, c]: [&[u8]; 3]) -> String {
        let func = match name {
            "veil-hash" => self.hash.clone(),
            "veil-fpe-encrypt" => self.fpe_encrypt.clone(),
            "veil-token-mask" => self.token_mask.clone(),
            "veil-regex-replace" => self.regex_replace.clone(),
            other => panic!("no three-string export `{other}`"),
        };
        let ((a, al), (b, bl), (c, cl)) = (self.lower(a), self.lower(b), self.lower(c));
        let area = func.call(&mut self.store, (a, al, b, bl, c, cl));
        self.lift(name, area)
    }

    /// `veil-hash(value, key-hex, scope)` on raw bytes; the result string, freed after.
    fn hash(&mut self, value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
        self.strings3("veil-hash", [value, key_hex, scope])
    }

    /// `veil-hash-reader(value, key-hex, scope, reader)`.
    fn hash_reader(&mut self, value: &[u8], key_hex: &[u8], scope: &[u8], reader: &[u8]) -> String {
        let (v, vl) = self.lower(value);
        let (k, kl) = self.lower(key_hex);
        let (s, sl) = self.lower(scope);
        let (r, rl) = self.lower(reader);
        let area = self.hash_reader.call(&mut self.store, (v, vl, k, kl, s, sl, r, rl));
        self.lift("veil-hash-reader", area)
    }

    /// `veil-fpe-encrypt(value, key-hex, scope)`.
    fn fpe_encrypt(&mut self, value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
        self.strings3("veil-fpe-encrypt", [value, key_hex, scope])
    }

    /// `veil-token-mask(value, key-hex, scope)`.
    fn token_mask(&mut self, value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
        self.strings3("veil-token-mask", [value, key_hex, scope])
    }

    /// `veil-regex-replace(value, pattern, replacement)`.
    fn regex_replace(&mut self, value: &[u8], pattern: &[u8], replacement: &[u8]) -> String {
        self.strings3("veil-regex-replace", [value, pattern, replacement])
    }

    /// `veil-email-mask(value)`.
    fn email_mask(&mut self, value: &[u8]) -> String {
        let (v, vl) = self.lower(value);
        let area = self.email_mask.call(&mut self.store, (v, vl));
        self.lift("veil-email-mask", area)
    }

    /// `veil-in-sample(row-key, key-hex, scope, percent)`: lift the `bool` as the host
    /// does, refusing anything but 0 and 1.
    fn in_sample(&mut self, row_key: &[u8], key_hex: &[u8], scope: &[u8], percent: f64) -> bool {
        let (r, rl) = self.lower(row_key);
        let (k, kl) = self.lower(key_hex);
        let (s, sl) = self.lower(scope);
        match self.in_sample.call(&mut self.store, (r, rl, k, kl, s, sl, percent)) {
            Ok(0) => false,
            Ok(1) => true,
            Ok(other) => panic!("`veil-in-sample` returned {other}, not a bool"),
            Err(e) => panic!("`veil-in-sample` trapped: {e:#}"),
        }
    }

    /// Lift a `string` result: read the `(ptr, len)` pair, the bytes, then free them.
    fn lift(&mut self, function: &str, area: wasmtime::Result<u32>) -> String {
        let area = area.unwrap_or_else(|e| panic!("`{function}` trapped: {e:#}"));
        let mut pair = [0u8; 8];
        self.memory.read(&self.store, area as usize, &mut pair).unwrap();
        let ptr = u32::from_le_bytes(pair[..4].try_into().unwrap());
        let len = u32::from_le_bytes(pair[4..].try_into().unwrap());
        let mut out = vec![0u8; len as usize];
        self.memory.read(&self.store, ptr as usize, &mut out).unwrap();
        self.free.call(&mut self.store, (ptr, len, 1)).expect("canonical_abi_free trapped");
        String::from_utf8(out).unwrap_or_else(|_| panic!("`{function}` returned UTF-8"))
    }

    fn pages(&self) -> u64 {
        self.memory.size(&self.store)
    }
}

/// The cases of `function` with a text first argument; asserts the NULL ones (never
/// passed: SQL NULL never reaches the UDF, the views guard it) expect NULL.
fn cases(v: &vectors::Vectors, function: &str) -> Vec<(String, Case)> {
    let mut out = Vec::new();
    for case in v.cases.iter().filter(|c| c.function == function) {
        match text(&case.args[0]) {
            Some(value) => out.push((value, case.clone())),
            None => assert_eq!(case.expected, Ok(("output", Value::Null)), "{function}: NULL gives NULL"),
        }
    }
    out
}

/// A string export's answer to a case: veil-core's output, or its error as
/// `veil-error:<kind>: <message>` (as the vector expects), never echoing the value.
fn check(function: &str, case: &Case, value: &str, got: &str, native: veil_core::Result<String>) {
    match (&case.expected, native) {
        (Ok(_), Ok(native)) => {
            assert_eq!(got, native, "{function}: wasm vs native, args {:.80?}", case.args);
            assert_eq!(Ok(stored(json!(got))), case.expected, "{function}: vector, args {:.80?}", case.args);
        }
        (Err(kind), Err(e)) => {
            assert_eq!(e.kind(), kind, "{function}: native error kind, args {:?}", case.args);
            assert_eq!(got, format!("veil-error:{kind}: {e}"), "{function}: error text, args {:?}", case.args);
            // (A one-letter value appears in any message: only longer ones can be told apart.)
            assert!(value.len() < 4 || !got.contains(value), "{function}: the error echoes the value: {got}");
        }
        (want, native) => panic!("{function}: vector {want:?} but veil-core gives {native:?}"),
    }
}

#[test]
fn hash_vectors_through_the_canonical_abi() {
    let v = vectors::load().unwrap();
    let mut guest = Guest::load();
    let (mut run, mut null) = (0, 0);
    for case in v.cases.iter().filter(|c| c.function == "hash") {
        let scope = case.args[1].as_str().unwrap();
        let reader = case.args.get(2).and_then(Value::as_str);
        let Some(value) = text(&case.args[0]) else {
            // SQL NULL never reaches the UDF: the views guard it (CASE … IS NULL).
            assert_eq!(case.expected, Ok(("output", Value::Null)));
            null += 1;
            continue;
        };
        let (got, native_scope) = match reader {
            None => (guest.hash(value.as_bytes(), v.key_hex.as_bytes(), scope.as_bytes()), Scope::parse(scope)),
            Some(r) => (
                guest.hash_reader(value.as_bytes(), v.key_hex.as_bytes(), scope.as_bytes(), r.as_bytes()),
                Scope::parse(scope).for_reader(r),
            ),
        };
        let native = mask::keyed_hash(&Key::from_hex(&v.key_hex).unwrap(), &native_scope, value.as_bytes());
        assert_eq!(got, native, "wasm vs native, scope {scope}");
        assert_eq!(Ok(stored(json!(got))), case.expected, "vector, scope {scope}");
        run += 1;
    }
    assert!(run >= 7 && null == 1, "ran {run} hash vectors, {null} NULL");
}

#[test]
fn fpe_encrypt_vectors_through_the_canonical_abi() {
    let v = vectors::load().unwrap();
    let key = Key::from_hex(&v.key_hex).unwrap();
    let mut guest = Guest::load();
    let cases = cases(&v, "fpe_encrypt");
    for (value, case) in &cases {
        let scope = case.args[1].as_str().unwrap();
        let got = guest.fpe_encrypt(value.as_bytes(), v.key_hex.as_bytes(), scope.as_bytes());
        let native = mask::FormatPreserving::new(&key, &Scope::parse(scope)).encrypt(value);
        check("veil-fpe-encrypt", case, value, &got, native);
    }
    let errors = cases.iter().filter(|(_, c)| c.expected.is_err()).count();
    let non_ascii = cases.iter().filter(|(v, c)| !v.is_ascii() && c.expected.is_ok()).count();
    assert!(
        cases.len() >= 25 && errors >= 8 && non_ascii >= 10,
        "ran {} fpe_encrypt vectors, {errors} errors, {non_ascii} non-ASCII",
        cases.len()
    );
    // The 1 MiB vectors fit SingleStore's default linear memory (no GROW TO needed).
    assert!(guest.pages() <= SINGLESTORE_DEFAULT_PAGES, "{} pages of linear memory", guest.pages());
}

#[test]
fn token_mask_vectors_through_the_canonical_abi() {
    let v = vectors::load().unwrap();
    let key = Key::from_hex(&v.key_hex).unwrap();
    let mut guest = Guest::load();
    let cases = cases(&v, "token_mask");
    for (value, case) in &cases {
        let scope = case.args[1].as_str().unwrap();
        let got = guest.token_mask(value.as_bytes(), v.key_hex.as_bytes(), scope.as_bytes());
        let native = mask::Tokenizer::new(&key, &Scope::parse(scope)).mask(value.as_bytes());
        check("veil-token-mask", case, value, &got, Ok(native));
        // The token is reversible natively: the module made a real token, not a look-alike.
        let back = mask::reversible_unmask(&key, &Scope::parse(scope), &got).unwrap();
        assert_eq!(back, value.as_bytes());
    }
    assert!(cases.len() >= 4, "ran {} token_mask vectors", cases.len());
    // The 1 MiB vectors fit SingleStore's default linear memory (no GROW TO needed).
    assert!(guest.pages() <= SINGLESTORE_DEFAULT_PAGES, "{} pages of linear memory", guest.pages());
}

#[test]
fn in_sample_vectors_through_the_canonical_abi() {
    let v = vectors::load().unwrap();
    let key = Key::from_hex(&v.key_hex).unwrap();
    let mut guest = Guest::load();
    let cases = cases(&v, "in_sample");
    let mut errors = 0;
    for (row_key, case) in &cases {
        let (scope, percent) = (case.args[1].as_str().unwrap(), case.args[2].as_f64().unwrap());
        let got = guest.in_sample(row_key.as_bytes(), v.key_hex.as_bytes(), scope.as_bytes(), percent);
        match (&case.expected, rows::in_sample(&key, &Scope::parse(scope), row_key.as_bytes(), percent)) {
            (Ok(want), Ok(native)) => {
                assert_eq!(got, native, "wasm vs native, args {:?}", case.args);
                assert_eq!(stored(json!(got)), want.clone(), "vector, args {:?}", case.args);
            }
            // No error channel for a bool: the row is left out (fail closed).
            (Err(kind), Err(e)) => {
                assert_eq!(e.kind(), kind);
                assert!(!got, "an error must leave the row out, args {:?}", case.args);
                errors += 1;
            }
            (want, native) => panic!("in_sample: vector {want:?} but veil-core gives {native:?}"),
        }
    }
    assert!(cases.len() >= 7 && errors == 1, "ran {} in_sample vectors, {errors} errors", cases.len());
}

#[test]
fn regex_replace_vectors_through_the_canonical_abi() {
    let v = vectors::load().unwrap();
    let mut guest = Guest::load();
    let cases = cases(&v, "mask_regex");
    for (value, case) in &cases {
        let (pattern, replacement) = (case.args[1].as_str().unwrap(), case.args[2].as_str().unwrap());
        let got = guest.regex_replace(value.as_bytes(), pattern.as_bytes(), replacement.as_bytes());
        let native = mask::RegexMask::new(pattern, replacement).map(|r| r.apply(value).into_owned());
        check("veil-regex-replace", case, value, &got, native);
    }
    let errors = cases.iter().filter(|(_, c)| c.expected.is_err()).count();
    assert!(cases.len() >= 6 && errors == 1, "ran {} mask_regex vectors, {errors} errors", cases.len());
    // The 1 MiB vectors fit SingleStore's default linear memory (no GROW TO needed).
    assert!(guest.pages() <= SINGLESTORE_DEFAULT_PAGES, "{} pages of linear memory", guest.pages());
}

#[test]
fn email_mask_vectors_through_the_canonical_abi() {
    let v = vectors::load().unwrap();
    let mut guest = Guest::load();
    let cases = cases(&v, "mask_email");
    for (value, case) in &cases {
        let got = guest.email_mask(value.as_bytes());
        check("veil-email-mask", case, value, &got, Ok(mask::email_mask(value)));
    }
    assert!(cases.len() >= 4, "ran {} mask_email vectors", cases.len());
}

#[test]
fn bad_input_is_an_error_text_never_a_trap() {
    let mut guest = Guest::load();
    let scope = b"shop.customers";
    let bad_key = guest.hash(b"alice", b"not-hex", scope);
    assert!(bad_key.starts_with("veil-error:invalid_key: "), "{bad_key}");
    let short_key = guest.hash(b"alice", b"0011", scope);
    assert!(short_key.starts_with("veil-error:invalid_key: "), "{short_key}");
    let not_utf8 = guest.hash(b"alice", &[0xff, 0xfe], scope);
    assert!(not_utf8.starts_with("veil-error:invalid_argument: "), "{not_utf8}");
    // Errors never echo the value.
    assert!(!bad_key.contains("alice") && !not_utf8.contains("alice"));
    // A value that is not UTF-8 is hashed as bytes (SingleStore sends UTF-8 anyway).
    let raw = guest.hash(&[0xff, 0x00], KEY.as_bytes(), scope);
    assert_eq!(raw, mask::keyed_hash(&Key::from_hex(KEY).unwrap(), &Scope::parse("shop.customers"), &[0xff, 0x00]));
    let bad_reader = guest.hash_reader(b"alice", KEY.as_bytes(), scope, &[0xff]);
    assert!(bad_reader.starts_with("veil-error:invalid_argument: "), "{bad_reader}");
    // Empty everything: an error text, no trap.
    assert!(guest.hash(b"", b"", b"").starts_with("veil-error:invalid_key: "));
}

#[test]
fn bad_input_to_the_masks_is_an_error_text_never_a_trap() {
    let mut guest = Guest::load();
    let key = KEY.as_bytes();
    let is = |got: &str, kind: &str, secret: &str| {
        assert!(got.starts_with(&format!("veil-error:{kind}: ")), "want {kind}: {got}");
        assert!(secret.is_empty() || !got.contains(secret), "the error echoes the value: {got}");
    };
    is(&guest.fpe_encrypt(b"123-45-6789", b"not-hex", b"s"), "invalid_key", "123-45-6789");
    is(&guest.fpe_encrypt(b"12-34", key, b"s"), "fpe_domain", "12-34");
    is(&guest.fpe_encrypt(&[0xff, b'1', b'2'], key, b"s"), "invalid_argument", "12");
    is(&guest.fpe_encrypt(b"123-45-6789", key, &[0xff]), "invalid_argument", "123-45-6789");
    is(&guest.token_mask(b"123-45-6789", b"0011", b"s"), "invalid_key", "123-45-6789");
    is(&guest.token_mask(b"123-45-6789", key, &[0xff]), "invalid_argument", "123-45-6789");
    // A value that is not UTF-8 is tokenized as bytes, as it is hashed.
    let raw = guest.token_mask(&[0xff, 0x00], key, b"s");
    assert_eq!(raw, mask::reversible_mask(&Key::from_hex(KEY).unwrap(), &Scope::parse("s"), &[0xff, 0x00]));
    is(&guest.regex_replace(b"secret-1", b"(", b"#"), "invalid_regex", "secret-1");
    is(&guest.regex_replace(b"secret-1", b"(?P<", b"#"), "invalid_regex", "secret-1");
    is(&guest.regex_replace(&[0xff, b'1'], br"\d", b"#"), "invalid_argument", "1");
    is(&guest.regex_replace(b"secret-1", &[0xff], b"#"), "invalid_argument", "secret-1");
    is(&guest.regex_replace(b"secret-1", br"\d", &[0xff]), "invalid_argument", "secret-1");
    // A pattern over the compiled-size limit is refused, not compiled until memory runs out.
    is(&guest.regex_replace(b"secret-1", br"\w{1000}{1000}", b"#"), "invalid_regex", "secret-1");
    is(&guest.email_mask(&[b'j', 0xff, b'@', b'x']), "invalid_argument", "@x");
    assert_eq!(guest.email_mask(b""), "XXXXX");
    // Empty everything: an error text or a value, no trap.
    is(&guest.fpe_encrypt(b"", b"", b""), "invalid_key", "");
    is(&guest.token_mask(b"", b"", b""), "invalid_key", "");
    assert_eq!(guest.regex_replace(b"", b"", b""), "");
}

#[test]
fn in_sample_fails_closed() {
    let mut guest = Guest::load();
    let (key, scope) = (KEY.as_bytes(), b"shop.orders");
    // 100% keeps every row: the zeros below come from the errors, not from the sample.
    assert!(guest.in_sample(b"order-1", key, scope, 100.0));
    assert!(guest.in_sample(&[0xff, 0x00], key, scope, 100.0), "the row key is bytes");
    assert!(!guest.in_sample(b"order-1", b"not-hex", scope, 100.0), "bad key");
    assert!(!guest.in_sample(b"order-1", b"0011", scope, 100.0), "short key");
    assert!(!guest.in_sample(b"order-1", &[0xff], scope, 100.0), "key not UTF-8");
    assert!(!guest.in_sample(b"order-1", key, &[0xff], 100.0), "scope not UTF-8");
    assert!(!guest.in_sample(b"order-1", key, scope, 100.5), "percent over 100");
    assert!(!guest.in_sample(b"order-1", key, scope, 1e300), "percent far over 100");
    assert!(!guest.in_sample(b"order-1", key, scope, -1.0), "negative percent");
    assert!(!guest.in_sample(b"order-1", key, scope, f64::NAN), "NaN percent");
    assert!(!guest.in_sample(b"order-1", key, scope, f64::INFINITY), "infinite percent");
    assert!(!guest.in_sample(b"", b"", b"", 100.0), "empty everything");
    // Back to a good call after the errors: the cache holds no failed sampler.
    assert!(guest.in_sample(b"order-1", key, scope, 100.0));
    // And the sample is the native one, cached per (key, scope, percent).
    let native = rows::Sampler::new(&Key::from_hex(KEY).unwrap(), &Scope::parse("shop.orders"), 30.0).unwrap();
    let (mut kept, mut other) = (0, 0);
    for i in 0..400 {
        let row = format!("order-{i}");
        let want = native.contains(row.as_bytes());
        assert_eq!(guest.in_sample(row.as_bytes(), key, scope, 30.0), want, "{row} at 30%");
        // Interleave another scope: the one-entry cache must switch, not mix.
        let there =
            rows::in_sample(&Key::from_hex(KEY).unwrap(), &Scope::parse("shop.x"), row.as_bytes(), 30.0).unwrap();
        assert_eq!(guest.in_sample(row.as_bytes(), key, b"shop.x", 30.0), there);
        kept += usize::from(want);
        other += usize::from(there);
    }
    assert!((80..160).contains(&kept) && (80..160).contains(&other), "30% of 400: {kept}, {other}");
}

#[test]
fn arguments_and_results_are_freed() {
    let mut guest = Guest::load();
    let key = KEY.as_bytes();
    let value = "x".repeat(64 * 1024);
    guest.hash(value.as_bytes(), key, b"shop.customers");
    let before = guest.pages();
    for _ in 0..2000 {
        guest.hash(value.as_bytes(), key, b"shop.customers");
    }
    // 2000 × 64 KiB arguments would be 125 MiB if anything leaked.
    assert_eq!(guest.pages(), before, "linear memory grew: an argument or result leaks");
}

#[test]
fn every_export_frees_its_arguments_results_and_cached_masks() {
    let mut guest = Guest::load();
    let key = KEY.as_bytes();
    let text = "jane.doe-4111 ".repeat(1200); // 16.4 KiB
    let digits = "4111-1111-1111-1111 ".repeat(50); // 1 KiB for FF1 (slow on long values)
    let email = format!("{}@example.com", "j".repeat(16 * 1024));
    let round = |guest: &mut Guest, i: usize| {
        // Alternate scopes and patterns so the one-entry caches are replaced every call.
        let scope: &[u8] = if i % 2 == 0 { b"shop.a" } else { b"shop.b" };
        let pattern: &[u8] = if i % 2 == 0 { br"\d" } else { br"[a-z]+" };
        let hashed = guest.hash(text.as_bytes(), key, scope);
        let reader = guest.hash_reader(text.as_bytes(), key, scope, b"bob");
        let fpe = guest.fpe_encrypt(digits.as_bytes(), key, scope);
        let token = guest.token_mask(text.as_bytes(), key, scope);
        let sampled = guest.in_sample(text.as_bytes(), key, scope, 50.0);
        let replaced = guest.regex_replace(text.as_bytes(), pattern, b"#");
        let masked = guest.email_mask(email.as_bytes());
        let errors = [
            guest.fpe_encrypt(text.as_bytes(), b"bad", scope),
            guest.regex_replace(text.as_bytes(), b"(", b"#"),
            guest.email_mask(&[0xff; 1024]),
        ];
        assert!(hashed.len() == 64 && reader.len() == 64 && fpe.len() == digits.len() && token.starts_with("vt1."));
        assert!(
            replaced.contains('#')
                && masked == "XXXXX@example.com"
                && errors.iter().all(|e| e.starts_with("veil-error:"))
        );
        assert!(!guest.in_sample(text.as_bytes(), b"bad", scope, 50.0));
        // The same row key in the same scope: the same answer every round.
        let native = rows::in_sample(
            &Key::from_hex(KEY).unwrap(),
            &Scope::parse(std::str::from_utf8(scope).unwrap()),
            text.as_bytes(),
            50.0,
        );
        assert_eq!(sampled, native.unwrap());
    };
    round(&mut guest, 0);
    round(&mut guest, 1);
    let before = guest.pages();
    for i in 0..400 {
        round(&mut guest, i);
    }
    // 400 rounds × ~120 KiB of arguments and results would be ~47 MiB if anything leaked.
    assert_eq!(guest.pages(), before, "linear memory grew: an argument, result or cached mask leaks");
}

/// The core type each export must have, derived from its WIT line by the old
/// canonical ABI's flattening: `string` is `(i32, i32)`, `float64` an `f64`; a
/// `string` result is an `i32` pointer to its `(ptr, len)`, a `bool` an `i32`.
fn flattened(wit_line: &str) -> (String, String, String) {
    let (name, rest) = wit_line.split_once(": func(").unwrap();
    let (params, result) = rest.split_once(") -> ").unwrap();
    let core = |ty: &str| match ty {
        "string" => "i32 i32",
        "float64" => "f64",
        other => panic!("{name}: no flattening for `{other}` here"),
    };
    let params: Vec<&str> = params.split(", ").map(|p| core(p.split_once(": ").unwrap().1)).collect();
    let result = match result {
        "string" | "bool" => "i32",
        other => panic!("{name}: no flattening for result `{other}` here"),
    };
    (name.to_owned(), params.join(" "), result.to_owned())
}

/// A module's `veil-*` exports as (name, core params, core results).
fn exports(module: &Module) -> Vec<(String, String, String)> {
    let mut exported: Vec<(String, String, String)> = module
        .exports()
        .filter(|e| e.name().starts_with("veil-"))
        .map(|e| {
            let ExternType::Func(ty) = e.ty() else { panic!("`{}` is not a function", e.name()) };
            let join = |types: &mut dyn Iterator<Item = wasmtime::ValType>| {
                types.map(|t| t.to_string()).collect::<Vec<_>>().join(" ")
            };
            let (params, results) = (join(&mut ty.params()), join(&mut ty.results()));
            (e.name().to_owned(), params, results)
        })
        .collect();
    exported.sort();
    exported
}

/// A WIT file's functions, flattened as [`exports`] lists them.
fn declared(path: &std::path::Path) -> Vec<(String, String, String)> {
    let wit = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}): run scripts/build-wasm", path.display()));
    assert!(wit.contains("veil-hash: func(value: string, key-hex: string, scope: string) -> string"));
    assert!(
        !wit.contains("world") && !wit.contains("interface") && !wit.contains("package"),
        "component-model WIT: {wit}"
    );
    let mut declared: Vec<(String, String, String)> =
        wit.lines().filter(|l| !l.starts_with("//") && !l.trim().is_empty()).map(flattened).collect();
    declared.sort();
    declared
}

#[test]
fn wit_is_the_old_syntax_singlestore_reads_and_the_module_exports_it() {
    let declared_full = declared(&module_path().with_file_name("veil.wit"));
    let (engine, module) = compiled();
    assert_eq!(exports(module), declared_full, "the module's exports and core types vs veil.wit");
    assert_eq!(declared_full.len(), 7);
    // veil-lite: the same without the regex engine.
    let lite_path = module_path().with_file_name("veil-lite.wasm");
    let lite = Module::new(engine, std::fs::read(&lite_path).unwrap()).unwrap();
    let declared_lite = declared(&module_path().with_file_name("veil-lite.wit"));
    assert_eq!(exports(&lite), declared_lite, "veil-lite's exports vs veil-lite.wit");
    let mut want = declared_full.clone();
    want.retain(|(name, _, _)| name != "veil-regex-replace");
    assert_eq!(declared_lite, want);
    assert!(lite.imports().next().is_none(), "veil-lite imports nothing");
    let (full_len, lite_len) =
        (std::fs::metadata(module_path()).unwrap().len(), std::fs::metadata(&lite_path).unwrap().len());
    assert!(lite_len * 4 < full_len, "veil-lite ({lite_len} bytes) is a fraction of veil ({full_len} bytes)");
}

#[test]
fn generated_statements_embed_the_built_module_and_name_its_exports() {
    use base64::Engine as _;
    use veil_host::targets::singlestore::{function_statements, Modules, FUNCTIONS};
    let dir = module_path().parent().unwrap().to_path_buf();
    let modules = Modules::load(&dir).unwrap();
    let statements = function_statements("veil", &modules);
    assert_eq!(statements.len(), FUNCTIONS.len());
    // Every UDF veil-host creates is an export the full WIT declares, and the other way round.
    let wit = std::fs::read_to_string(dir.join("veil.wit")).unwrap();
    let declared: Vec<&str> =
        wit.lines().filter(|l| !l.starts_with("//")).filter_map(|l| l.split_once(": func(")).map(|(n, _)| n).collect();
    let mut created: Vec<&str> = FUNCTIONS.iter().map(|(_, export)| *export).collect();
    created.sort_unstable();
    let mut wanted = declared.clone();
    wanted.sort_unstable();
    assert_eq!(created, wanted, "veil-host's FUNCTIONS vs veil.wit");
    let b64 = base64::engine::general_purpose::STANDARD;
    for ((name, export), sql) in FUNCTIONS.iter().zip(&statements) {
        let head = format!("CREATE OR REPLACE FUNCTION `veil`.`{name}` AS WASM ABI CANONICAL FROM BASE64 '");
        assert!(sql.starts_with(&head), "{sql:.200}");
        assert!(sql.ends_with(&format!("USING EXPORT '{export}';")), "{name}");
        let blobs: Vec<&str> = sql.split("BASE64 '").skip(1).map(|rest| rest.split('\'').next().unwrap()).collect();
        assert_eq!(blobs.len(), 2, "{sql:.200}");
        // The regex UDF embeds the full module, every other one veil-lite; its WIT declares the export.
        let stem = if *name == "veil_regex_replace" { "veil" } else { "veil-lite" };
        let built = std::fs::read(dir.join(format!("{stem}.wasm"))).unwrap();
        let built_wit = std::fs::read_to_string(dir.join(format!("{stem}.wit"))).unwrap();
        assert_eq!(b64.decode(blobs[0]).unwrap(), built, "{name}: the FROM BASE64 blob is {stem}.wasm");
        assert_eq!(b64.decode(blobs[1]).unwrap(), built_wit.as_bytes(), "{name}: the WITH WIT blob is {stem}.wit");
        assert!(built_wit.contains(&format!("{export}: func(")), "{name}");
    }
}

// Arbitrary bytes through every export (a real key in half the cases, so the masks
// run and do not stop at the key): the module never traps and answers exactly as
// veil-singlestore does natively. PROPTEST_CASES raises the count (scripts/fuzz).
proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48)
    ))]
    #[test]
    fn arbitrary_bytes_through_every_export_match_native(
        export in 0u8..7,
        value in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
        key in proptest::prop_oneof![
            proptest::strategy::Just(KEY.as_bytes().to_vec()),
            proptest::collection::vec(proptest::num::u8::ANY, 0..70),
        ],
        scope in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
        reader in proptest::collection::vec(proptest::num::u8::ANY, 0..12),
        text in "\\PC{0,12}",
        percent in proptest::num::f64::ANY,
    ) {
        use veil_singlestore as native;
        let mut guest = guest();
        let (v, k, s, r) = (&value[..], &key[..], &scope[..], &reader[..]);
        match export {
            0 => proptest::prop_assert_eq!(guest.hash(v, k, s), native::hash_raw(v, k, s)),
            1 => proptest::prop_assert_eq!(guest.hash_reader(v, k, s, r), native::hash_for_reader_raw(v, k, s, r)),
            2 => proptest::prop_assert_eq!(guest.fpe_encrypt(v, k, s), native::fpe_encrypt_raw(v, k, s)),
            3 => proptest::prop_assert_eq!(guest.token_mask(v, k, s), native::token_mask_raw(v, k, s)),
            4 => proptest::prop_assert_eq!(guest.in_sample(v, k, s, percent), native::in_sample_raw(v, k, s, percent)),
            5 => {
                let pattern = text.as_bytes();
                proptest::prop_assert_eq!(guest.regex_replace(v, pattern, r), native::regex_replace_raw(v, pattern, r));
            }
            _ => proptest::prop_assert_eq!(guest.email_mask(v), native::email_mask_raw(v)),
        }
    }
}

/// One instance for the property's cases (a fresh one per case would spend the time
/// instantiating).
fn guest() -> std::sync::MutexGuard<'static, Guest> {
    static GUEST: OnceLock<std::sync::Mutex<Guest>> = OnceLock::new();
    GUEST.get_or_init(|| std::sync::Mutex::new(Guest::load())).lock().unwrap_or_else(|e| e.into_inner())
}
