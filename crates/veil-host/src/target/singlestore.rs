//! SingleStore (partial): the Wasm UDF statements only. Views, grants and
//! `veil bind --target singlestore` are not written yet (see docs/targets.md).
//!
//! SingleStore runs Wasm UDFs with the older interface-types canonical ABI, not the
//! component model, so its module is `dist/singlestore/veil.wasm` (crates/
//! veil-singlestore, a core module with no imports) with its old-syntax WIT
//! `dist/singlestore/veil.wit`, both embedded as base64:
//!
//! ```sql
//! CREATE OR REPLACE FUNCTION veil.veil_hash AS WASM ABI CANONICAL
//!   FROM BASE64 '…' WITH WIT FROM BASE64 '…' USING EXPORT 'veil-hash';
//! ```

use std::path::Path;

use crate::{Error, Result};

/// The UDFs the module exports: (SQL function name, Wasm export name).
pub const FUNCTIONS: &[(&str, &str)] = &[("veil_hash", "veil-hash"), ("veil_hash_reader", "veil-hash-reader")];

/// The module and its WIT (usually from `dist/singlestore`).
#[derive(Clone, Debug)]
pub struct Module {
    /// The core module's bytes.
    pub wasm: Vec<u8>,
    /// The WIT text.
    pub wit: String,
}

impl Module {
    /// Read `veil.wasm` and `veil.wit` from `dir`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when either is missing (run `scripts/build-wasm`) or the
    /// file is not a Wasm core module.
    pub fn load(dir: &Path) -> Result<Self> {
        let missing = |path: &Path, e: std::io::Error| {
            Error::Invalid(format!("SingleStore module `{}`: {e}; run scripts/build-wasm", path.display()))
        };
        let wasm_path = dir.join("veil.wasm");
        let wasm = std::fs::read(&wasm_path).map_err(|e| missing(&wasm_path, e))?;
        // A core module: magic + version 1 (a component has a different version/layer).
        if wasm.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
            return Err(Error::Invalid(format!(
                "`{}` is not a Wasm core module (SingleStore cannot load a component)",
                wasm_path.display()
            )));
        }
        let wit_path = dir.join("veil.wit");
        let wit = std::fs::read_to_string(&wit_path).map_err(|e| missing(&wit_path, e))?;
        Ok(Self { wasm, wit })
    }
}

/// Standard base64 with padding (the alphabet needs no escaping in a SQL literal).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32, shift: u32| ALPHABET.get(((n >> shift) & 63) as usize).map_or('=', |&c| char::from(c));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        out.push(if chunk.len() > 1 { sextet(n, 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(n, 0) } else { '=' });
    }
    out
}

/// Backtick-quoted identifier (MySQL dialect).
pub fn quote_ident(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// `CREATE OR REPLACE FUNCTION` for every UDF of the module, in database `schema`.
pub fn function_statements(schema: &str, module: &Module) -> Vec<String> {
    let wasm = base64(&module.wasm);
    let wit = base64(module.wit.as_bytes());
    FUNCTIONS
        .iter()
        .map(|(name, export)| {
            format!(
                "CREATE OR REPLACE FUNCTION {}.{} AS WASM ABI CANONICAL FROM BASE64 '{wasm}' \
                 WITH WIT FROM BASE64 '{wit}' USING EXPORT '{export}';",
                quote_ident(schema),
                quote_ident(name)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_statements() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
        let m = Module { wasm: b"\0asm\x01\0\0\0".to_vec(), wit: "veil-hash: func() -> string\n".into() };
        let s = function_statements("veil", &m);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[..1],
            ["CREATE OR REPLACE FUNCTION `veil`.`veil_hash` AS WASM ABI CANONICAL FROM BASE64 'AGFzbQEAAAA=' \
             WITH WIT FROM BASE64 'dmVpbC1oYXNoOiBmdW5jKCkgLT4gc3RyaW5nCg==' USING EXPORT 'veil-hash';"
                .to_string()]
        );
        assert!(s[1].ends_with("USING EXPORT 'veil-hash-reader';"));
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}
