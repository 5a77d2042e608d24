//! Shared pieces of veil's cross-engine tests: the shared vectors
//! (`tests/vectors/core.json`) and a wasmtime host for the component
//! `dist/veil.wasm` (built by `scripts/build-wasm`), bound with `bindgen!` to the
//! same `wit/veil.wit` the guest implements.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared vectors.
pub mod vectors {
    use super::*;

    /// Outputs longer than this are stored as their SHA-256 (as in veil-core's test).
    pub const INLINE_LIMIT: usize = 256;

    /// One case of the shared vectors.
    #[derive(Clone, Debug)]
    pub struct Case {
        /// The function, e.g. `hash`.
        pub function: String,
        /// The arguments as JSON.
        pub args: Vec<Value>,
        /// What every engine must give: the stored output, or an error kind.
        pub expected: Result<(&'static str, Value), String>,
    }

    /// The whole file.
    #[derive(Clone, Debug)]
    pub struct Vectors {
        /// The master key, 64 hex digits.
        pub key_hex: String,
        /// Every case, in file order.
        pub cases: Vec<Case>,
    }

    /// Read `tests/vectors/core.json`.
    ///
    /// # Errors
    /// A message naming the file when it cannot be read or has the wrong shape.
    pub fn load() -> Result<Vectors, String> {
        let path = repo_root().join("tests/vectors/core.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let key_hex = doc.get("key").and_then(Value::as_str).ok_or("vectors without `key`")?.to_owned();
        let mut cases = Vec::new();
        for case in doc.get("cases").and_then(Value::as_array).ok_or("vectors without `cases`")? {
            let function = case.get("fn").and_then(Value::as_str).ok_or("case without `fn`")?.to_owned();
            let args = case.get("args").and_then(Value::as_array).ok_or("case without `args`")?.clone();
            let expected = if let Some(kind) = case.get("error") {
                Err(kind.as_str().ok_or("`error` is not a string")?.to_owned())
            } else if let Some(digest) = case.get("output_sha256") {
                Ok(("output_sha256", digest.clone()))
            } else {
                Ok(("output", case.get("output").cloned().ok_or("case without output or error")?))
            };
            cases.push(Case { function, args, expected });
        }
        Ok(Vectors { key_hex, cases })
    }

    /// A text input: a string, `null`, or `{repeat, times}` expanded.
    pub fn text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => {
                let unit = o.get("repeat").and_then(Value::as_str)?;
                let times = o.get("times").and_then(Value::as_u64)?;
                Some(unit.repeat(usize::try_from(times).ok()?))
            }
            _ => None,
        }
    }

    /// An output as stored in the file: long strings become their SHA-256.
    pub fn stored(output: Value) -> (&'static str, Value) {
        match &output {
            Value::String(s) if s.len() > INLINE_LIMIT => {
                let digest: String = Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                ("output_sha256", json!(digest))
            }
            _ => ("output", output),
        }
    }
}

/// A wasmtime host for `dist/veil.wasm`.
pub mod host {
    use super::*;
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Config, Engine, Store};

    #[allow(missing_docs, clippy::all)]
    mod bindings {
        wasmtime::component::bindgen!({
            world: "enforce",
            path: "../wit",
        });
    }

    pub use bindings::exports::veil::udf::types::{Error as WitError, Keep};
    pub use bindings::Enforce;

    /// Where `scripts/build-wasm` writes the component (`VEIL_COMPONENT` overrides).
    pub fn component_path() -> PathBuf {
        std::env::var_os("VEIL_COMPONENT").map_or_else(|| repo_root().join("dist/veil.wasm"), PathBuf::from)
    }

    /// The kind string of a WIT error: the same as veil-core's `Error::kind()`.
    pub fn kind(e: &WitError) -> &'static str {
        match e {
            WitError::InvalidKey(_) => "invalid_key",
            WitError::InvalidRegex(_) => "invalid_regex",
            WitError::InvalidArgument(_) => "invalid_argument",
            WitError::ConstantType(_) => "constant_type",
            WitError::FpeDomain(_) => "fpe_domain",
            WitError::Parse(_) => "parse",
            WitError::TokenInvalid(_) => "token_invalid",
            WitError::Other(_) => "other",
        }
    }

    /// The component, instantiated with no imports at all.
    pub struct Host {
        /// The store holding the one instance.
        pub store: Store<()>,
        /// The typed exports.
        pub veil: Enforce,
        /// Size of the component file in bytes.
        pub size: usize,
        /// Names the component imports (must be none).
        pub imports: Vec<String>,
    }

    /// The engine and the compiled component, shared by every [`Host`] of a process
    /// (compiling the component is the slow part).
    struct Compiled {
        engine: Engine,
        component: Component,
        size: usize,
        imports: Vec<String>,
    }

    fn compiled() -> Result<&'static Compiled, String> {
        static COMPILED: std::sync::OnceLock<Result<Compiled, String>> = std::sync::OnceLock::new();
        COMPILED.get_or_init(compile).as_ref().map_err(Clone::clone)
    }

    fn compile() -> Result<Compiled, String> {
        let path = component_path();
        let bytes = std::fs::read(&path).map_err(|e| {
            format!("cannot read the component {}: {e}\nrun scripts/build-wasm first to build it", path.display())
        })?;
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(|e| format!("wasmtime engine: {e:#}"))?;
        let component = Component::new(&engine, &bytes).map_err(|e| format!("{}: {e:#}", path.display()))?;
        let imports = component.component_type().imports(&engine).map(|(name, _)| name.to_owned()).collect();
        Ok(Compiled { engine, component, size: bytes.len(), imports })
    }

    impl Host {
        /// Load `dist/veil.wasm` (compiled once per process) and instantiate it in a
        /// new store.
        ///
        /// # Errors
        /// A message saying to run `scripts/build-wasm` when the file is missing,
        /// or what wasmtime reported.
        pub fn load() -> Result<Self, String> {
            let compiled = compiled()?;
            // An empty linker: instantiation fails if the component imports anything.
            let linker = Linker::new(&compiled.engine);
            let mut store = Store::new(&compiled.engine, ());
            let veil = Enforce::instantiate(&mut store, &compiled.component, &linker)
                .map_err(|e| format!("instantiate {}: {e:#}", component_path().display()))?;
            Ok(Self { store, veil, size: compiled.size, imports: compiled.imports.clone() })
        }
    }
}
