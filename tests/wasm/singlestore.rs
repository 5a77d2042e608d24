//! The SingleStore core module `dist/singlestore/veil.wasm` in wasmtime, called
//! exactly as SingleStore's (older, interface-types) canonical ABI prescribes:
//! every `string` argument allocated with `canonical_abi_realloc(0, 0, 1, len)` and
//! passed as `(ptr, len)` (the guest owns and frees it), the result read through the
//! returned pointer to a `(ptr, len)` pair, then released with
//! `canonical_abi_free(ptr, len, 1)`. Compared with veil-core natively on the shared
//! vectors (hash cases).
//!
//! Build the module first: `scripts/build-wasm`. A missing module fails these tests;
//! it never skips them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::path::PathBuf;

use serde_json::{json, Value};
use veil_core::{mask, Key, Scope};
use veil_tests::repo_root;
use veil_tests::vectors::{self, stored, text};
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};

fn module_path() -> PathBuf {
    std::env::var_os("VEIL_SINGLESTORE_MODULE")
        .map_or_else(|| repo_root().join("dist/singlestore/veil.wasm"), PathBuf::from)
}

/// `veil-hash-reader`: four `(ptr, len)` string arguments, a result-area pointer.
type HashReader = TypedFunc<(u32, u32, u32, u32, u32, u32, u32, u32), u32>;

struct Guest {
    store: Store<()>,
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    free: TypedFunc<(u32, u32, u32), ()>,
    hash: TypedFunc<(u32, u32, u32, u32, u32, u32), u32>,
    hash_reader: HashReader,
}

impl Guest {
    fn load() -> Self {
        let path = module_path();
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read {} ({e}): run scripts/build-wasm first", path.display()));
        let engine = Engine::default();
        let module = Module::new(&engine, &bytes).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let imports: Vec<String> = module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect();
        assert!(imports.is_empty(), "the SingleStore module must import nothing (no WASI): {imports:?}");
        let mut store = Store::new(&engine, ());
        // An empty linker: instantiation fails if the module imports anything.
        let instance: Instance = Linker::new(&engine).instantiate(&mut store, &module).unwrap();
        let memory = instance.get_memory(&mut store, "memory").expect("exports `memory`");
        let realloc = instance.get_typed_func(&mut store, "canonical_abi_realloc").unwrap();
        let free = instance.get_typed_func(&mut store, "canonical_abi_free").unwrap();
        let hash = instance.get_typed_func(&mut store, "veil-hash").unwrap();
        let hash_reader = instance.get_typed_func(&mut store, "veil-hash-reader").unwrap();
        Guest { store, memory, realloc, free, hash, hash_reader }
    }

    /// Lower one `string`/bytes argument: allocate in the guest and copy.
    fn lower(&mut self, bytes: &[u8]) -> (u32, u32) {
        let len = u32::try_from(bytes.len()).unwrap();
        let ptr = self.realloc.call(&mut self.store, (0, 0, 1, len)).expect("canonical_abi_realloc trapped");
        self.memory.write(&mut self.store, ptr as usize, bytes).unwrap();
        (ptr, len)
    }

    /// `veil-hash(value, key-hex, scope)` on raw bytes; the result string, freed after.
    fn hash(&mut self, value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
        let (v, vl) = self.lower(value);
        let (k, kl) = self.lower(key_hex);
        let (s, sl) = self.lower(scope);
        let area = self.hash.call(&mut self.store, (v, vl, k, kl, s, sl));
        self.lift("veil-hash", area)
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
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let raw = guest.hash(&[0xff, 0x00], key.as_bytes(), scope);
    assert_eq!(raw, mask::keyed_hash(&Key::from_hex(key).unwrap(), &Scope::parse("shop.customers"), &[0xff, 0x00]));
    let bad_reader = guest.hash_reader(b"alice", key.as_bytes(), scope, &[0xff]);
    assert!(bad_reader.starts_with("veil-error:invalid_argument: "), "{bad_reader}");
    // Empty everything: an error text, no trap.
    assert!(guest.hash(b"", b"", b"").starts_with("veil-error:invalid_key: "));
}

#[test]
fn arguments_and_results_are_freed() {
    let mut guest = Guest::load();
    let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let value = "x".repeat(64 * 1024);
    guest.hash(value.as_bytes(), key.as_bytes(), b"shop.customers");
    let before = guest.pages();
    for _ in 0..2000 {
        guest.hash(value.as_bytes(), key.as_bytes(), b"shop.customers");
    }
    // 2000 × 64 KiB arguments would be 125 MiB if anything leaked.
    assert_eq!(guest.pages(), before, "linear memory grew: an argument or result leaks");
}

#[test]
fn wit_is_the_old_syntax_singlestore_reads() {
    let path = module_path().with_file_name("veil.wit");
    let wit = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}): run scripts/build-wasm", path.display()));
    assert!(wit.contains("veil-hash: func(value: string, key-hex: string, scope: string) -> string"));
    assert!(
        !wit.contains("world") && !wit.contains("interface") && !wit.contains("package"),
        "component-model WIT: {wit}"
    );
}

#[test]
fn generated_statement_embeds_the_built_module() {
    use base64::Engine as _;
    use veil_host::target::singlestore::{function_statements, Module};
    let dir = module_path().parent().unwrap().to_path_buf();
    let module = Module::load(&dir).unwrap();
    let built = std::fs::read(module_path()).unwrap();
    let statements = function_statements("veil", &module);
    assert_eq!(statements.len(), 2);
    assert!(statements[1].ends_with("USING EXPORT 'veil-hash-reader';"));
    let sql = &statements[0];
    let blobs: Vec<&str> = sql.split("BASE64 '").skip(1).map(|rest| rest.split('\'').next().unwrap()).collect();
    assert_eq!(blobs.len(), 2, "{sql:.200}");
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(b64.decode(blobs[0]).unwrap(), built, "the FROM BASE64 blob is the built module");
    let wit = std::fs::read_to_string(dir.join("veil.wit")).unwrap();
    assert_eq!(b64.decode(blobs[1]).unwrap(), wit.as_bytes(), "the WITH WIT blob is the built WIT");
    assert!(sql.starts_with("CREATE OR REPLACE FUNCTION `veil`.`veil_hash` AS WASM ABI CANONICAL FROM BASE64 '"));
    assert!(sql.ends_with("USING EXPORT 'veil-hash';"));
}
