//! veil-core for JavaScript: the functions of `wit/veil.wit` as wasm-bindgen exports.
//!
//! Scalar functions, one per veil-core function, named `veil<Name>` (`veilHash(value,
//! keyHex, scope, reader?)`, `veilMaskRegex(value, pattern, replacement)`, …), because
//! JS UDFs (Snowflake, BigQuery) are called once per row. `null`/`undefined` in the
//! value argument gives `undefined` back (SQL NULL). 64-bit integers are `BigInt`.
//! Failures throw an `Error` whose message starts with the veil-core error kind:
//! `invalid_regex: …`, `fpe_domain: …` (the kinds of `wit/veil.wit`'s `error`).
//!
//! `scripts/build-wasm` turns this crate into `dist/js/node/` (`--target nodejs`) and
//! `dist/js/veil.inline.js` (the Wasm inlined as base64, for a UDF body). A thin shim:
//! no logic lives here.
//!
//! Features choose the exports: `full` (every function; default), `mask-regex`
//! (`veilMaskRegex`, with `full`; default). Without `full` only `veilAbiVersion`,
//! `veilHash` and `veilInSample` are left, plus `veilFpeEncrypt` with `fpe-encrypt`
//! and `veilTokenMask` with `token-mask`: veil-js-slim's per-family builds.

mod memo;

/// The exports; `#[wasm_bindgen]` generates unsafe ABI shims beside each function.
#[allow(unsafe_code)]
mod exports {
    use std::cell::RefCell;

    use veil_core::mask;
    #[cfg(feature = "full")]
    use veil_core::mask::{DateUnit, Keep};
    use veil_core::{rows, Key, Scope};
    use wasm_bindgen::prelude::*;

    use crate::memo::{self, Keyed, Slot};

    // The last prepared mask of each kind: JS UDFs call once per row with constant
    // arguments, so the set-up (regex, key derivation) is paid once, not per row.
    thread_local! {
        static HASHER: Slot<Keyed, mask::KeyedHasher> = const { RefCell::new(None) };
        #[cfg(all(feature = "mask-regex", feature = "full"))]
        static REGEX: Slot<(String, String), mask::RegexMask> = const { RefCell::new(None) };
        #[cfg(feature = "fpe-encrypt")]
        static FPE: Slot<Keyed, mask::FormatPreserving> = const { RefCell::new(None) };
        #[cfg(feature = "token-mask")]
        static TOKENIZER: Slot<Keyed, mask::Tokenizer> = const { RefCell::new(None) };
        static SAMPLER: Slot<(Keyed, u64), rows::Sampler> = const { RefCell::new(None) };
    }

    /// Run `f` on the keyed mask prepared by `make` for these arguments (memoised).
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
            || Ok(make(&key(key_hex)?, &scope(scope_text, reader.map(str::to_owned)))),
            f,
        )
    }

    /// The version of the `veil:udf` contract these functions follow (1 for 0.1.0).
    #[wasm_bindgen(js_name = veilAbiVersion)]
    pub fn abi_version() -> u32 {
        1
    }

    fn js_error(e: veil_core::Error) -> JsError {
        JsError::new(&format!("{}: {e}", e.kind()))
    }

    fn key(key_hex: &str) -> Result<Key, JsError> {
        Key::from_hex(key_hex).map_err(js_error)
    }

    fn scope(text: &str, reader: Option<String>) -> Scope {
        let scope = Scope::parse(text);
        match reader {
            Some(reader) => scope.for_reader(reader),
            None => scope,
        }
    }

    #[cfg(feature = "full")]
    fn unit(text: &str) -> Result<DateUnit, JsError> {
        DateUnit::parse(text).map_err(js_error)
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

    /// Replace every match of `pattern` by `replacement`.
    #[cfg(all(feature = "mask-regex", feature = "full"))]
    #[wasm_bindgen(js_name = veilMaskRegex)]
    pub fn mask_regex(value: Option<String>, pattern: &str, replacement: &str) -> Result<Option<String>, JsError> {
        memo::with(
            &REGEX,
            |(p, r)| p == pattern && r == replacement,
            || (pattern.to_owned(), replacement.to_owned()),
            || mask::RegexMask::new(pattern, replacement).map_err(js_error),
            |regex| value.map(|v| regex.apply(&v).into_owned()),
        )
    }

    /// Keep the first `n` characters, fill the rest with `fill`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilRevealFirst)]
    pub fn reveal_first(value: Option<String>, n: u32, fill: char) -> Option<String> {
        value.map(|v| mask::reveal(&v, Keep::First(n as usize), fill))
    }

    /// Keep the last `n` characters, fill the rest with `fill`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilRevealLast)]
    pub fn reveal_last(value: Option<String>, n: u32, fill: char) -> Option<String> {
        value.map(|v| mask::reveal(&v, Keep::Last(n as usize), fill))
    }

    /// Hide the local part of an e-mail address.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilEmailMask)]
    pub fn email_mask(value: Option<String>) -> Option<String> {
        value.map(|v| mask::email_mask(&v))
    }

    /// Round a 64-bit integer (BigInt) to a multiple of `width`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilRoundInt)]
    pub fn round_int(value: Option<i64>, width: i64) -> Result<Option<i64>, JsError> {
        value.map(|v| mask::round_int(v, width)).transpose().map_err(js_error)
    }

    /// Round a float to a multiple of `width`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilRoundFloat)]
    pub fn round_float(value: Option<f64>, width: f64) -> Result<Option<f64>, JsError> {
        let bucket = mask::FloatBucket::new(width).map_err(js_error)?;
        Ok(value.map(|v| bucket.apply(v)))
    }

    /// Round a float to `places` decimal places.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilRoundPlaces)]
    pub fn round_places(value: Option<f64>, places: i32) -> Option<f64> {
        value.map(|v| mask::round_places(v, places))
    }

    /// Truncate a date (days since 1970-01-01) to `unit`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilTruncDate)]
    pub fn trunc_date(days: Option<i32>, unit_text: &str) -> Result<Option<i32>, JsError> {
        let unit = unit(unit_text)?;
        Ok(days.map(|d| mask::trunc_date_days(d, unit)))
    }

    /// Truncate a timestamp (microseconds since the epoch, BigInt) to `unit`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilTruncTimestamp)]
    pub fn trunc_timestamp(micros: Option<i64>, unit_text: &str) -> Result<Option<i64>, JsError> {
        let unit = unit(unit_text)?;
        Ok(micros.map(|t| mask::trunc_timestamp_micros(t, unit)))
    }

    /// Truncate ISO-8601 text to `unit`, keeping its shape.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilTruncIso)]
    pub fn trunc_iso(value: Option<String>, unit_text: &str) -> Result<Option<String>, JsError> {
        let unit = unit(unit_text)?;
        value.map(|v| mask::trunc_iso(&v, unit)).transpose().map_err(js_error)
    }

    /// Format-preserving encryption (FF1).
    #[cfg(feature = "fpe-encrypt")]
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

    /// Recover a value masked by `veilFpeEncrypt`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilFpeDecrypt)]
    pub fn fpe_decrypt(
        value: Option<String>,
        key_hex: &str,
        scope_text: &str,
        reader: Option<String>,
    ) -> Result<Option<String>, JsError> {
        let Some(value) = value else { return Ok(None) };
        keyed(&FPE, (key_hex, scope_text, reader.as_deref()), mask::FormatPreserving::new, |fp| fp.decrypt(&value))?
            .map(Some)
            .map_err(js_error)
    }

    /// Reversible token (AES-SIV), `vt1.…`.
    #[cfg(feature = "token-mask")]
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

    /// Recover the text of a token made by `veilTokenMask`.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilTokenUnmask)]
    pub fn token_unmask(
        token: Option<String>,
        key_hex: &str,
        scope_text: &str,
        reader: Option<String>,
    ) -> Result<Option<String>, JsError> {
        let Some(token) = token else { return Ok(None) };
        let plain =
            keyed(&TOKENIZER, (key_hex, scope_text, reader.as_deref()), mask::Tokenizer::new, |t| t.unmask(&token))?
                .map_err(js_error)?;
        String::from_utf8(plain).map(Some).map_err(|_| JsError::new("other: the unmasked token is not UTF-8 text"))
    }

    /// Does the user value reach the data tag? `undefined` if either is NULL.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilTagMatches)]
    pub fn tag_matches(user_value: Option<String>, data_tag: Option<String>) -> Option<bool> {
        Some(rows::tag_matches(&user_value?, &data_tag?))
    }

    /// Is the row's value one of the reader's `values`?
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilAttributeIn)]
    pub fn attribute_in(value: Option<String>, values: Vec<String>, hierarchical: bool) -> Option<bool> {
        value.map(|v| rows::attribute_in(&v, &values, hierarchical))
    }

    /// Is the event time `ts` in the window ending at `now` (BigInts, same unit)?
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = veilInWindow)]
    pub fn in_window(ts: Option<i64>, now: i64, window: i64) -> Option<bool> {
        ts.map(|ts| rows::in_window(ts, now, window))
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
                let scope = scope(scope_text, reader.map(str::to_owned));
                rows::Sampler::new(&key(key_hex)?, &scope, percent).map_err(js_error)
            },
            |sampler| row_key.map(|k| sampler.contains(k.as_bytes())),
        )
    }
}

pub use exports::*;
