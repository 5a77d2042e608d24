//! veil-core for SingleStore's Wasm UDFs (`CREATE FUNCTION … AS WASM ABI CANONICAL
//! FROM BASE64 '…' WITH WIT FROM BASE64 '…'`).
//!
//! SingleStore's `CANONICAL` ABI is the older interface-types canonical ABI (the one
//! of the 2022 `wit-bindgen` its toolkit pins), not today's component model, so this
//! is a plain core module exporting, by hand:
//!
//! * `veil-hash(value: string, key-hex: string, scope: string) -> string` and
//!   `veil-hash-reader(…, reader: string) -> string` (per-reader hash) (`veil.wit`):
//!   every `string` argument is an `(i32 ptr, i32 len)` pair of UTF-8 bytes that the
//!   host allocated with `canonical_abi_realloc` and hands over (the guest frees it);
//!   the result is an `i32` pointer to an 8-byte area holding the `(ptr, len)` of the
//!   result string, which the host reads and then releases with `canonical_abi_free`.
//! * `canonical_abi_realloc(old_ptr, old_len, align, new_len) -> ptr` and
//!   `canonical_abi_free(ptr, len, align)`.
//!
//! No export traps on bad input: SingleStore's canonical ABI has no result type, so a
//! failure comes back as text `veil-error:<kind>: <message>` (a digest is hex, so it
//! never starts that way). The text carries no input value.
//!
//! Built for `wasm32-unknown-unknown` by `scripts/build-wasm`; on other targets it
//! compiles (for `cargo clippy --workspace`) but exports nothing.

use veil_core::{mask, Key, Scope};

/// The WIT SingleStore reads with `WITH WIT FROM …` (old, pre-component syntax).
pub const WIT: &str = include_str!("../veil.wit");

/// The prefix of every error result.
pub const ERROR_PREFIX: &str = "veil-error:";

fn error_text(e: &veil_core::Error) -> String {
    format!("{ERROR_PREFIX}{}: {e}", e.kind())
}

/// `veil-hash`: the keyed hash of `value` under `key_hex` for `scope`, or an error text.
pub fn hash(value: &[u8], key_hex: &str, scope: &str) -> String {
    match Key::from_hex(key_hex) {
        Ok(key) => mask::keyed_hash(&key, &Scope::parse(scope), value),
        Err(e) => error_text(&e),
    }
}

/// `veil-hash-reader`: the per-reader keyed hash, or an error text.
pub fn hash_for_reader(value: &[u8], key_hex: &str, scope: &str, reader: &str) -> String {
    match Key::from_hex(key_hex) {
        Ok(key) => mask::keyed_hash(&key, &Scope::parse(scope).for_reader(reader), value),
        Err(e) => error_text(&e),
    }
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

/// The canonical-ABI glue: raw linear memory, so `unsafe`, kept to these few lines.
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

    #[unsafe(export_name = "veil-hash")]
    unsafe extern "C" fn veil_hash(v: *mut u8, vl: usize, k: *mut u8, kl: usize, s: *mut u8, sl: usize) -> *mut u8 {
        let (value, key, scope) = (arg(v, vl), arg(k, kl), arg(s, sl));
        ret(super::hash_raw(&value, &key, &scope))
    }

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
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hash_matches_core_and_errors_are_text() {
        let want = "591bacb3fd28e8c409de4aebce3315ee30bedbad66063e157033be61308ce22e";
        assert_eq!(hash(b"alice@example.com", KEY, "shop.customers"), want);
        assert!(hash(b"x", "nothex", "s").starts_with("veil-error:invalid_key: "));
        assert!(hash_raw(b"x", &[0xff], b"s").starts_with("veil-error:invalid_argument: "));
        let bob = "476053abfa4cbf69c4cfca44a42bc0b134eeb0ebd1a371c3a5c51cafabf1334b";
        assert_eq!(hash_for_reader(b"alice@example.com", KEY, "shop.customers", "bob"), bob);
        assert!(hash_for_reader_raw(b"x", KEY.as_bytes(), b"s", &[0xff]).starts_with("veil-error:invalid_argument: "));
        assert!(WIT.contains("veil-hash: func(value: string, key-hex: string, scope: string) -> string"));
    }
}
