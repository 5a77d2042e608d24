//! veil-core for SingleStore's Wasm UDFs (`CREATE FUNCTION … AS WASM ABI CANONICAL
//! FROM BASE64 '…' WITH WIT FROM BASE64 '…'`).
//!
//! SingleStore's `CANONICAL` ABI is the older interface-types canonical ABI (the one
//! of the 2022 `wit-bindgen` its toolkit pins), not today's component model, so this
//! is a plain core module exporting, by hand, the functions of `veil.wit`:
//!
//! * `veil-hash(value, key-hex, scope) -> string` and `veil-hash-reader(…, reader)`
//!   (keyed hash, per reader), `veil-fpe-encrypt(value, key-hex, scope) -> string`
//!   (FF1, format kept), `veil-token-mask(value, key-hex, scope) -> string`
//!   (reversible `vt1.…` token), `veil-regex-replace(value, pattern, replacement) ->
//!   string` and `veil-email-mask(value) -> string`: every `string` argument is an
//!   `(i32 ptr, i32 len)` pair of UTF-8 bytes that the host allocated with
//!   `canonical_abi_realloc` and hands over (the guest frees it); the result is an
//!   `i32` pointer to an 8-byte area holding the `(ptr, len)` of the result string,
//!   which the host reads and then releases with `canonical_abi_free`.
//! * `veil-in-sample(row-key, key-hex, scope, percent: float64) -> bool`: the
//!   percent is an `f64` argument and the result an `i32` 0 or 1, returned directly.
//! * `canonical_abi_realloc(old_ptr, old_len, align, new_len) -> ptr` and
//!   `canonical_abi_free(ptr, len, align)`.
//!
//! No export traps on bad input: SingleStore's canonical ABI has no result type, so a
//! failure comes back as text `veil-error:<kind>: <message>` (a digest or token never
//! starts that way) and `veil-in-sample` answers 0 (the row is left out: fail
//! closed). The text carries no input value.
//!
//! A UDF is called once per row with constant key, scope and pattern, so the prepared
//! mask of each family (derived key, compiled regex) is kept for the next call, as in
//! veil-js (`memo.rs`).
//!
//! Built for `wasm32-unknown-unknown` by `scripts/build-wasm`; on other targets it
//! compiles (for `cargo clippy --workspace`) but exports nothing. Features choose
//! the exports: `regex` (`veil-regex-replace`: the regex engine and its Unicode
//! tables are about 0.9 of the 1 MB module) and `masks` (FF1, tokens, sample,
//! e-mail); without either only the keyed hash is left (31 KB), which BigQuery
//! embeds inline (`dist/js/slim/veil-hash-core.inline.js`).

use std::cell::RefCell;
use std::thread::LocalKey;

use veil_core::{mask, rows, Key, Scope};

#[path = "../../veil-js/src/memo.rs"]
mod memo;

use memo::{Keyed, Slot};

/// The WIT SingleStore reads with `WITH WIT FROM …` (old, pre-component syntax).
pub const WIT: &str = include_str!("../veil.wit");

/// The prefix of every error result.
pub const ERROR_PREFIX: &str = "veil-error:";

// The last prepared mask of each family: the set-up (key derivation, AES key
// schedule, regex compilation) is paid once per distinct arguments, not per row.
thread_local! {
    static HASHER: Slot<Keyed, mask::KeyedHasher> = const { RefCell::new(None) };
    static FPE: Slot<Keyed, mask::FormatPreserving> = const { RefCell::new(None) };
    static TOKENIZER: Slot<Keyed, mask::Tokenizer> = const { RefCell::new(None) };
    static SAMPLER: Slot<(Keyed, u64), rows::Sampler> = const { RefCell::new(None) };
    static REGEX: Slot<(String, String), mask::RegexMask> = const { RefCell::new(None) };
}

fn error_text(e: &veil_core::Error) -> String {
    format!("{ERROR_PREFIX}{}: {e}", e.kind())
}

fn scope(text: &str, reader: Option<&str>) -> Scope {
    let scope = Scope::parse(text);
    match reader {
        Some(r) => scope.for_reader(r),
        None => scope,
    }
}

/// Run `f` on the keyed mask `make` prepares for these arguments (memoised).
fn keyed<V, R>(
    slot: &'static LocalKey<Slot<Keyed, V>>,
    (key_hex, scope_text, reader): (&str, &str, Option<&str>),
    make: impl FnOnce(&Key, &Scope) -> V,
    f: impl FnOnce(&V) -> R,
) -> Result<R, veil_core::Error> {
    memo::with(
        slot,
        |k| k.is(key_hex, scope_text, reader),
        || Keyed::new(key_hex, scope_text, reader),
        || Ok(make(&Key::from_hex(key_hex)?, &scope(scope_text, reader))),
        f,
    )
}

/// `veil-hash`: the keyed hash of `value` under `key_hex` for `scope`, or an error text.
///
/// ```
/// let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// assert_eq!(veil_singlestore::hash(b"x", key, "shop.customers").len(), 64);
/// assert!(veil_singlestore::hash(b"x", "nothex", "shop.customers").starts_with("veil-error:invalid_key: "));
/// ```
pub fn hash(value: &[u8], key_hex: &str, scope: &str) -> String {
    keyed(&HASHER, (key_hex, scope, None), mask::KeyedHasher::new, |h| h.hash_hex(value))
        .unwrap_or_else(|e| error_text(&e))
}

/// `veil-hash-reader`: the per-reader keyed hash, or an error text.
pub fn hash_for_reader(value: &[u8], key_hex: &str, scope: &str, reader: &str) -> String {
    keyed(&HASHER, (key_hex, scope, Some(reader)), mask::KeyedHasher::new, |h| h.hash_hex(value))
        .unwrap_or_else(|e| error_text(&e))
}

/// `veil-fpe-encrypt`: FF1 format-preserving encryption of `value`, or an error text
/// (`fpe_domain` for a value with too few digits or letters).
///
/// ```
/// let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// let masked = veil_singlestore::fpe_encrypt("123-45-6789", key, "shop.payments");
/// assert_eq!(masked.len(), 11);
/// assert!(veil_singlestore::fpe_encrypt("12-34", key, "shop.payments").starts_with("veil-error:fpe_domain: "));
/// ```
pub fn fpe_encrypt(value: &str, key_hex: &str, scope: &str) -> String {
    match keyed(&FPE, (key_hex, scope, None), mask::FormatPreserving::new, |fp| fp.encrypt(value)) {
        Ok(Ok(masked)) => masked,
        Ok(Err(e)) | Err(e) => error_text(&e),
    }
}

/// `veil-token-mask`: the reversible token (AES-SIV, `vt1.…`) of `value`, or an error text.
///
/// ```
/// let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// assert!(veil_singlestore::token_mask(b"123-45-6789", key, "hr.employees").starts_with("vt1."));
/// ```
pub fn token_mask(value: &[u8], key_hex: &str, scope: &str) -> String {
    keyed(&TOKENIZER, (key_hex, scope, None), mask::Tokenizer::new, |t| t.mask(value))
        .unwrap_or_else(|e| error_text(&e))
}

/// `veil-in-sample`: is the row with key `row_key` in the reproducible `percent`
/// sample? `false` on any error (bad key, percent outside 0–100): fail closed.
///
/// ```
/// let key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// assert!(veil_singlestore::in_sample(b"order-1", key, "shop.orders", 100.0));
/// assert!(!veil_singlestore::in_sample(b"order-1", key, "shop.orders", 101.0));
/// ```
pub fn in_sample(row_key: &[u8], key_hex: &str, scope_text: &str, percent: f64) -> bool {
    memo::with(
        &SAMPLER,
        |(k, p)| k.is(key_hex, scope_text, None) && *p == percent.to_bits(),
        || (Keyed::new(key_hex, scope_text, None), percent.to_bits()),
        || rows::Sampler::new(&Key::from_hex(key_hex)?, &scope(scope_text, None), percent),
        |sampler| sampler.contains(row_key),
    )
    .unwrap_or(false)
}

/// `veil-regex-replace`: every match of `pattern` in `value` replaced by
/// `replacement` (`$1`, `${name}` name captures), or an error text (`invalid_regex`).
///
/// ```
/// assert_eq!(veil_singlestore::regex_replace("164.16.13.118", r"\d+$", "XXX"), "164.16.13.XXX");
/// assert!(veil_singlestore::regex_replace("x", "(", "y").starts_with("veil-error:invalid_regex: "));
/// ```
pub fn regex_replace(value: &str, pattern: &str, replacement: &str) -> String {
    memo::with(
        &REGEX,
        |(p, r)| p == pattern && r == replacement,
        || (pattern.to_owned(), replacement.to_owned()),
        || mask::RegexMask::new(pattern, replacement),
        |regex| regex.apply(value).into_owned(),
    )
    .unwrap_or_else(|e| error_text(&e))
}

/// An argument that is not UTF-8 (the host promises UTF-8; never trap if it lies).
fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| format!("{ERROR_PREFIX}invalid_argument: argument is not UTF-8"))
}

/// `veil-hash` on raw argument bytes, as the export receives them.
pub fn hash_raw(value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
    match (text(key_hex), text(scope)) {
        (Ok(k), Ok(s)) => hash(value, k, s),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// `veil-hash-reader` on raw argument bytes.
pub fn hash_for_reader_raw(value: &[u8], key_hex: &[u8], scope: &[u8], reader: &[u8]) -> String {
    match (text(key_hex), text(scope), text(reader)) {
        (Ok(k), Ok(s), Ok(r)) => hash_for_reader(value, k, s, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => e,
    }
}

/// `veil-fpe-encrypt` on raw argument bytes (FF1 works on text: the value must be UTF-8).
pub fn fpe_encrypt_raw(value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
    match (text(value), text(key_hex), text(scope)) {
        (Ok(v), Ok(k), Ok(s)) => fpe_encrypt(v, k, s),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => e,
    }
}

/// `veil-token-mask` on raw argument bytes (the value is tokenized as bytes).
pub fn token_mask_raw(value: &[u8], key_hex: &[u8], scope: &[u8]) -> String {
    match (text(key_hex), text(scope)) {
        (Ok(k), Ok(s)) => token_mask(value, k, s),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// `veil-in-sample` on raw argument bytes (the row key is bytes); `false` when the
/// key or scope is not UTF-8.
pub fn in_sample_raw(row_key: &[u8], key_hex: &[u8], scope: &[u8], percent: f64) -> bool {
    match (text(key_hex), text(scope)) {
        (Ok(k), Ok(s)) => in_sample(row_key, k, s, percent),
        _ => false,
    }
}

/// `veil-regex-replace` on raw argument bytes.
pub fn regex_replace_raw(value: &[u8], pattern: &[u8], replacement: &[u8]) -> String {
    match (text(value), text(pattern), text(replacement)) {
        (Ok(v), Ok(p), Ok(r)) => regex_replace(v, p, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => e,
    }
}

/// `veil-email-mask` on raw argument bytes: the local part hidden, the domain kept.
pub fn email_mask_raw(value: &[u8]) -> String {
    text(value).map_or_else(|e| e, mask::email_mask)
}

/// The canonical-ABI glue: raw linear memory, so `unsafe`, kept to this module.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod abi {
    use std::alloc::{self, Layout};

    /// Where an export leaves the `(ptr, len)` of its result string.
    #[repr(C, align(4))]
    struct RetArea([u32; 2]);
    static mut RET_AREA: RetArea = RetArea([0; 2]);

    fn layout(len: usize, align: usize) -> Option<Layout> {
        Layout::from_size_align(len, align.max(1)).ok()
    }

    /// Allocate (`old_len == 0`) or resize; a zero-length request gets `align` (a
    /// dangling, aligned, never-dereferenced pointer). Aborts on exhaustion.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn canonical_abi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        let Some(new) = layout(new_len, align) else { std::process::abort() };
        if new_len == 0 {
            if old_len != 0 {
                canonical_abi_free(old_ptr, old_len, align);
            }
            return align.max(1) as *mut u8;
        }
        let ptr = match layout(old_len, align) {
            Some(old) if old_len != 0 => alloc::realloc(old_ptr, old, new_len),
            _ => alloc::alloc(new),
        };
        if ptr.is_null() {
            alloc::handle_alloc_error(new);
        }
        ptr
    }

    #[unsafe(no_mangle)]
    unsafe extern "C" fn canonical_abi_free(ptr: *mut u8, len: usize, align: usize) {
        if len != 0 {
            if let Some(l) = layout(len, align) {
                alloc::dealloc(ptr, l);
            }
        }
    }

    /// Take ownership of an argument the host allocated with `canonical_abi_realloc(0, 0, 1, len)`.
    unsafe fn arg(ptr: *mut u8, len: usize) -> Vec<u8> {
        if len == 0 {
            Vec::new()
        } else {
            Vec::from_raw_parts(ptr, len, len)
        }
    }

    /// Hand the result to the host: its bytes (an exact-size allocation it frees with
    /// `canonical_abi_free(ptr, len, 1)`) and the area with their `(ptr, len)`.
    unsafe fn ret(s: String) -> *mut u8 {
        let bytes = s.into_bytes().into_boxed_slice();
        let len = bytes.len();
        // An empty boxed slice is a dangling pointer and no allocation: freeing len 0 is a no-op.
        let ptr = Box::into_raw(bytes).cast::<u8>();
        let area = std::ptr::addr_of_mut!(RET_AREA);
        (*area).0 = [ptr as u32, len as u32];
        area.cast()
    }

    /// An export taking three strings and returning one: `(ptr, len)` triples in,
    /// owned from here on; the result through the return area.
    macro_rules! strings3 {
        ($(#[$meta:meta])* $export:literal, $name:ident, $raw:path) => {
            $(#[$meta])*
            #[unsafe(export_name = $export)]
            unsafe extern "C" fn $name(a: *mut u8, al: usize, b: *mut u8, bl: usize, c: *mut u8, cl: usize) -> *mut u8 {
                let (a, b, c) = (arg(a, al), arg(b, bl), arg(c, cl));
                ret($raw(&a, &b, &c))
            }
        };
    }

    strings3!("veil-hash", veil_hash, super::hash_raw);
    strings3!(
        #[cfg(feature = "masks")]
        "veil-fpe-encrypt",
        veil_fpe_encrypt,
        super::fpe_encrypt_raw
    );
    strings3!(
        #[cfg(feature = "masks")]
        "veil-token-mask",
        veil_token_mask,
        super::token_mask_raw
    );
    strings3!(
        #[cfg(feature = "regex")]
        "veil-regex-replace",
        veil_regex_replace,
        super::regex_replace_raw
    );

    #[unsafe(export_name = "veil-hash-reader")]
    unsafe extern "C" fn veil_hash_reader(
        v: *mut u8,
        vl: usize,
        k: *mut u8,
        kl: usize,
        s: *mut u8,
        sl: usize,
        r: *mut u8,
        rl: usize,
    ) -> *mut u8 {
        let (value, key, scope, reader) = (arg(v, vl), arg(k, kl), arg(s, sl), arg(r, rl));
        ret(super::hash_for_reader_raw(&value, &key, &scope, &reader))
    }

    /// `float64` is passed as a core `f64`; `bool` comes back as a core `i32` 0 or 1.
    #[cfg(feature = "masks")]
    #[unsafe(export_name = "veil-in-sample")]
    unsafe extern "C" fn veil_in_sample(
        r: *mut u8,
        rl: usize,
        k: *mut u8,
        kl: usize,
        s: *mut u8,
        sl: usize,
        percent: f64,
    ) -> i32 {
        let (row_key, key, scope) = (arg(r, rl), arg(k, kl), arg(s, sl));
        i32::from(super::in_sample_raw(&row_key, &key, &scope, percent))
    }

    #[cfg(feature = "masks")]
    #[unsafe(export_name = "veil-email-mask")]
    unsafe extern "C" fn veil_email_mask(v: *mut u8, vl: usize) -> *mut u8 {
        ret(super::email_mask_raw(&arg(v, vl)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const OTHER_KEY: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    fn key(hex: &str) -> Key {
        Key::from_hex(hex).unwrap()
    }

    #[test]
    fn hash_matches_core_and_errors_are_text() {
        let want = "591bacb3fd28e8c409de4aebce3315ee30bedbad66063e157033be61308ce22e";
        assert_eq!(hash(b"alice@example.com", KEY, "shop.customers"), want);
        assert!(hash(b"x", "nothex", "s").starts_with("veil-error:invalid_key: "));
        assert!(hash_raw(b"x", &[0xff], b"s").starts_with("veil-error:invalid_argument: "));
        let bob = "476053abfa4cbf69c4cfca44a42bc0b134eeb0ebd1a371c3a5c51cafabf1334b";
        assert_eq!(hash_for_reader(b"alice@example.com", KEY, "shop.customers", "bob"), bob);
        assert!(hash_for_reader_raw(b"x", KEY.as_bytes(), b"s", &[0xff]).starts_with("veil-error:invalid_argument: "));
        // The cached hasher is the one of the current arguments, not the last call's.
        assert_eq!(hash(b"alice@example.com", KEY, "shop.customers"), want);
        let other = mask::keyed_hash(&key(OTHER_KEY), &Scope::parse("shop.customers"), b"alice@example.com");
        assert_eq!(hash(b"alice@example.com", OTHER_KEY, "shop.customers"), other);
        assert!(WIT.contains("veil-hash: func(value: string, key-hex: string, scope: string) -> string"));
    }

    #[test]
    fn fpe_encrypt_matches_core() {
        let payments = Scope::parse("shop.payments");
        assert_eq!(fpe_encrypt("4111-1111-1111-1111", KEY, "shop.payments"), "2658-9574-0556-5101");
        assert_eq!(fpe_encrypt("123-45-6789", KEY, "shop.payments"), "888-75-3032");
        let other = mask::format_preserving_encrypt(&key(OTHER_KEY), &payments, "123-45-6789").unwrap();
        assert_eq!(fpe_encrypt_raw(b"123-45-6789", OTHER_KEY.as_bytes(), b"shop.payments"), other);
        assert_eq!(fpe_encrypt("4111-1111-1111-1111", KEY, "shop.orders"), "1659-0769-0283-8848");
        let short = fpe_encrypt("12-34", KEY, "shop.payments");
        assert!(short.starts_with("veil-error:fpe_domain: ") && !short.contains("12-34"), "{short}");
        assert!(fpe_encrypt("123-45-6789", "0011", "s").starts_with("veil-error:invalid_key: "));
        assert!(fpe_encrypt_raw(&[0xff, b'1'], KEY.as_bytes(), b"s").starts_with("veil-error:invalid_argument: "));
    }

    #[test]
    fn token_mask_matches_core() {
        assert_eq!(token_mask(b"123-45-6789", KEY, "hr.employees"), "vt1.iVHTeuXoBu3fI1OZhI9TFLMSl8Oyhb2FiWoF");
        assert_eq!(token_mask_raw(b"", KEY.as_bytes(), b"hr.employees"), "vt1.0e7mRHnjR18CVI3XeAjE6A");
        let raw = mask::reversible_mask(&key(KEY), &Scope::parse("hr.employees"), &[0xff, 0x00]);
        assert_eq!(token_mask_raw(&[0xff, 0x00], KEY.as_bytes(), b"hr.employees"), raw);
        assert!(token_mask(b"x", "nothex", "s").starts_with("veil-error:invalid_key: "));
        assert!(token_mask_raw(b"x", KEY.as_bytes(), &[0xff]).starts_with("veil-error:invalid_argument: "));
    }

    #[test]
    fn in_sample_matches_core_and_fails_closed() {
        let orders = Scope::parse("shop.orders");
        for (row, percent) in [(&b"order-1"[..], 10.0), (b"order-2", 10.0), (b"", 10.0), (b"order-1", 100.0)] {
            let want = rows::in_sample(&key(KEY), &orders, row, percent).unwrap();
            assert_eq!(in_sample(row, KEY, "shop.orders", percent), want);
        }
        assert!(in_sample(b"", KEY, "shop.orders", 10.0), "the shared vector");
        assert!(!in_sample(b"order-1", KEY, "shop.orders", 0.0));
        let half: usize =
            (0..1000).filter(|i| in_sample_raw(format!("r{i}").as_bytes(), KEY.as_bytes(), b"s", 50.0)).count();
        assert!((400..600).contains(&half), "{half} of 1000 at 50%");
        // Any error leaves the row out.
        assert!(!in_sample(b"order-1", "nothex", "shop.orders", 100.0));
        assert!(!in_sample(b"order-1", KEY, "shop.orders", 101.0));
        assert!(!in_sample(b"order-1", KEY, "shop.orders", f64::NAN));
        assert!(!in_sample_raw(b"order-1", &[0xff], b"shop.orders", 100.0));
        assert!(in_sample_raw(&[0xff], KEY.as_bytes(), b"shop.orders", 100.0), "the row key is bytes");
    }

    #[test]
    fn regex_replace_matches_core() {
        assert_eq!(regex_replace("164.16.13.118", r"\d+$", "XXX"), "164.16.13.XXX");
        assert_eq!(regex_replace("jane@example.com", r"(\w+)@(\w+)", "$2 at $1"), "example at jane.com");
        assert_eq!(regex_replace_raw("Zoë 123".as_bytes(), br"\d", b"#"), "Zoë ###");
        assert_eq!(regex_replace("", r"\d", "#"), "");
        let bad = regex_replace("secret", "(", "y");
        assert!(bad.starts_with("veil-error:invalid_regex: ") && !bad.contains("secret"), "{bad}");
        assert!(regex_replace_raw(&[0xff], br"\d", b"#").starts_with("veil-error:invalid_argument: "));
        assert!(regex_replace_raw(b"1", &[0xff], b"#").starts_with("veil-error:invalid_argument: "));
    }

    #[test]
    fn email_mask_matches_core() {
        assert_eq!(email_mask_raw(b"jane.doe@example.com"), "XXXXX@example.com");
        assert_eq!(email_mask_raw(b"not an address"), "XXXXX");
        assert_eq!(email_mask_raw(b"a@b@example.org"), "XXXXX@example.org");
        assert_eq!(email_mask_raw(b""), "XXXXX");
        assert!(email_mask_raw(&[0xff, b'@', b'x']).starts_with("veil-error:invalid_argument: "));
    }

    #[test]
    fn wit_declares_every_export() {
        let lines: Vec<&str> = WIT.lines().filter(|l| !l.starts_with("//")).collect();
        assert_eq!(
            lines,
            [
                "veil-hash: func(value: string, key-hex: string, scope: string) -> string",
                "veil-hash-reader: func(value: string, key-hex: string, scope: string, reader: string) -> string",
                "veil-fpe-encrypt: func(value: string, key-hex: string, scope: string) -> string",
                "veil-token-mask: func(value: string, key-hex: string, scope: string) -> string",
                "veil-in-sample: func(row-key: string, key-hex: string, scope: string, percent: float64) -> bool",
                "veil-regex-replace: func(value: string, pattern: string, replacement: string) -> string",
                "veil-email-mask: func(value: string) -> string",
            ]
        );
    }
}
