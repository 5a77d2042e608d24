//! Slim builds of veil-core for warehouse JavaScript UDFs: one family per build.
//!
//! A warehouse caps a JS UDF body (Snowflake about 100 KB, BigQuery inline code
//! about 32 KB), and `dist/js/veil.inline.js` carries every function and a regex
//! engine. These builds carry only what one masking function needs:
//! - `veil-hash.inline.js`: `veilHash(value, keyHex, scope, reader?)` and
//!   `veilInSample(rowKey, keyHex, scope, percent, reader?)`;
//! - `veil-ff1.inline.js`: the same plus `veilFpeEncrypt`;
//! - `veil-token.inline.js`: the same plus `veilTokenMask`.
//!
//! The functions are veil-js's, same names, arguments and results (a thin shim:
//! no logic lives here); decryption and unmasking are left out on purpose, so a
//! warehouse function built from these can mask and never unmask.

#[path = "../../veil-js/src/memo.rs"]
mod memo;

/// The exports; `#[wasm_bindgen]` generates unsafe ABI shims beside each function.
#[allow(unsafe_code)]
mod exports {
    use std::cell::RefCell;

    use veil_core::mask;
    use veil_core::{rows, Key, Scope};
    use wasm_bindgen::prelude::*;

    use crate::memo::{self, Keyed, Slot};

    thread_local! {
        static HASHER: Slot<Keyed, mask::KeyedHasher> = const { RefCell::new(None) };
        static SAMPLER: Slot<(Keyed, u64), rows::Sampler> = const { RefCell::new(None) };
        #[cfg(feature = "ff1")]
        static FPE: Slot<Keyed, mask::FormatPreserving> = const { RefCell::new(None) };
        #[cfg(feature = "token")]
        static TOKENIZER: Slot<Keyed, mask::Tokenizer> = const { RefCell::new(None) };
    }

    fn js_error(e: veil_core::Error) -> JsError {
        JsError::new(&format!("{}: {e}", e.kind()))
    }

    fn keyed<V, R>(
        slot: &'static std::thread::LocalKey<Slot<Keyed, V>>,
        (key_hex, scope_text, reader): (&str, &str, Option<&str>),
        make: impl FnOnce(&Key, &Scope) -> V,
        f: impl FnOnce(&V) -> R,
    ) -> Result<R, JsError> {
        memo::with(
            slot,
            |k| k.is(key_hex, scope_text, reader),
            || Keyed::new(key_hex, scope_text, reader),
            || {
                let key = Key::from_hex(key_hex).map_err(js_error)?;
                let scope = Scope::parse(scope_text);
                let scope = match reader {
                    Some(r) => scope.for_reader(r.to_owned()),
                    None => scope,
                };
                Ok(make(&key, &scope))
            },
            f,
        )
    }

    /// The version of the `veil:udf` contract these functions follow (1 for 0.1.0).
    #[wasm_bindgen(js_name = veilAbiVersion)]
    pub fn abi_version() -> u32 {
        1
    }

    /// Keyed hash (HMAC-SHA-256 under a key derived for the scope), 64 hex digits.
    #[wasm_bindgen(js_name = veilHash)]
    pub fn hash(
        value: Option<String>,
        key_hex: &str,
        scope_text: &str,
        reader: Option<String>,
    ) -> Result<Option<String>, JsError> {
        let Some(value) = value else { return Ok(None) };
        keyed(&HASHER, (key_hex, scope_text, reader.as_deref()), mask::KeyedHasher::new, |h| {
            Some(h.hash_hex(value.as_bytes()))
        })
    }

    /// Is the row with this key in the reproducible `percent` sample?
    #[wasm_bindgen(js_name = veilInSample)]
    pub fn in_sample(
        row_key: Option<String>,
        key_hex: &str,
        scope_text: &str,
        percent: f64,
        reader: Option<String>,
    ) -> Result<Option<bool>, JsError> {
        let reader = reader.as_deref();
        memo::with(
            &SAMPLER,
            |(k, p)| k.is(key_hex, scope_text, reader) && *p == percent.to_bits(),
            || (Keyed::new(key_hex, scope_text, reader), percent.to_bits()),
            || {
                let key = Key::from_hex(key_hex).map_err(js_error)?;
                let scope = Scope::parse(scope_text);
                let scope = match reader {
                    Some(r) => scope.for_reader(r.to_owned()),
                    None => scope,
                };
                rows::Sampler::new(&key, &scope, percent).map_err(js_error)
            },
            |sampler| row_key.map(|k| sampler.contains(k.as_bytes())),
        )
    }

    /// Format-preserving encryption (FF1).
    #[cfg(feature = "ff1")]
    #[wasm_bindgen(js_name = veilFpeEncrypt)]
    pub fn fpe_encrypt(
        value: Option<String>,
        key_hex: &str,
        scope_text: &str,
        reader: Option<String>,
    ) -> Result<Option<String>, JsError> {
        let Some(value) = value else { return Ok(None) };
        keyed(&FPE, (key_hex, scope_text, reader.as_deref()), mask::FormatPreserving::new, |fp| fp.encrypt(&value))?
            .map(Some)
            .map_err(js_error)
    }

    /// Reversible token (AES-SIV), `vt1.…`.
    #[cfg(feature = "token")]
    #[wasm_bindgen(js_name = veilTokenMask)]
    pub fn token_mask(
        value: Option<String>,
        key_hex: &str,
        scope_text: &str,
        reader: Option<String>,
    ) -> Result<Option<String>, JsError> {
        let Some(value) = value else { return Ok(None) };
        keyed(&TOKENIZER, (key_hex, scope_text, reader.as_deref()), mask::Tokenizer::new, |t| {
            Some(t.mask(value.as_bytes()))
        })
    }
}
pub use exports::*;
