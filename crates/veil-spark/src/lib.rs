//! veil-core for Apache Spark through JNI: the native side of the Hive UDFs in
//! `engines/spark/udf` (class `veil.spark.udf.Native`).
//!
//! Spark holds keys derived per scope (`veil.keys`), never the master key, so every
//! function takes the 32-byte derived key and the scope (`source:<id>`) as
//! arguments; the key and the scope's encoding are exactly what veil-core derives
//! and uses on every other engine, so the bytes out are the same.
//!
//! Values cross as UTF-8 bytes (Spark's own string form), so nothing is re-encoded.
//! Every failure (a key that is not 32 bytes, an FF1 domain too small, text that is
//! not UTF-8) becomes a Java `IllegalArgumentException` naming the problem;
//! a panic is caught and reported the same way, never unwound into the JVM.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use jni::objects::{JByteArray, JClass, JObject};
use jni::sys::jbyteArray;
use jni::JNIEnv;
use veil_core::mask::{FormatPreserving, KeyedHasher, Tokenizer};
use veil_core::Scope;

/// A masker kept for the next call while key and scope stay the same (a UDF is
/// called row by row with one key per query).
struct Cached<T> {
    key: [u8; 32],
    scope: Vec<u8>,
    masker: T,
}

thread_local! {
    static FF1: RefCell<Option<Cached<FormatPreserving>>> = const { RefCell::new(None) };
    static TOKEN: RefCell<Option<Cached<Tokenizer>>> = const { RefCell::new(None) };
}

/// A derived key: exactly 32 bytes.
fn derived_key(key: &[u8]) -> Result<[u8; 32], String> {
    key.try_into().map_err(|_| {
        format!("veil: a derived key is 32 bytes, got {} (is the key for this scope in veil.keys?)", key.len())
    })
}

fn scope_of(scope: &[u8]) -> Result<Scope, String> {
    let text = std::str::from_utf8(scope).map_err(|_| "veil: the scope is not UTF-8".to_string())?;
    if !(text.starts_with("source:") || text.starts_with("project:")) {
        return Err(format!("veil: scope `{text}` is not `source:<id>` or `project:<id>`"));
    }
    Ok(Scope::parse(text))
}

/// Run `f` with the masker for (`key`, `scope`), building it only when they changed.
fn with_cached<T, R>(
    cell: &'static std::thread::LocalKey<RefCell<Option<Cached<T>>>>,
    key: &[u8],
    scope: &[u8],
    build: fn(&[u8; 32], &Scope) -> T,
    f: impl FnOnce(&T) -> Result<R, String>,
) -> Result<R, String> {
    let key = derived_key(key)?;
    cell.with(|slot| {
        let mut slot = slot.try_borrow_mut().map_err(|_| "veil: re-entrant call".to_string())?;
        let fresh = !matches!(&*slot, Some(c) if c.key == key && c.scope == scope);
        if fresh {
            *slot = Some(Cached { key, scope: scope.to_vec(), masker: build(&key, &scope_of(scope)?) });
        }
        match &*slot {
            Some(c) => f(&c.masker),
            None => Err("veil: no masker".into()),
        }
    })
}

/// FF1 format-preserving encryption of UTF-8 `value` under the derived FF1 key of `scope`.
///
/// # Errors
/// A message for a bad key or scope, text that is not UTF-8, or a value FF1 refuses
/// (veil-core's domain rule).
pub fn ff1(key: &[u8], scope: &[u8], value: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(value).map_err(|_| "veil: FF1 of text that is not UTF-8".to_string())?;
    with_cached(&FF1, key, scope, FormatPreserving::from_derived, |m| {
        m.encrypt(text).map(String::into_bytes).map_err(|e| format!("veil: {e}"))
    })
}

/// The reversible token (AES-SIV) of `value` under the derived token key of `scope`.
///
/// # Errors
/// A message for a bad key or scope.
pub fn token(key: &[u8], scope: &[u8], value: &[u8]) -> Result<Vec<u8>, String> {
    with_cached(&TOKEN, key, scope, Tokenizer::from_derived, |t| Ok(t.mask(value).into_bytes()))
}

/// HMAC-SHA-256 of `value` under the derived hash key, as 64 lowercase hex digits
/// (veil's keyed hash; Spark SQL computes the same with `hmac`).
///
/// # Errors
/// A message for a key that is not 32 bytes.
pub fn hash(key: &[u8], value: &[u8]) -> Result<Vec<u8>, String> {
    let key = derived_key(key)?;
    Ok(KeyedHasher::from_raw_key(&key).hash_hex(value).into_bytes())
}

/// Call `f` on the arrays' bytes and return its bytes as a Java `byte[]`; an error or
/// a panic throws `IllegalArgumentException` and returns null.
fn call(
    env: &mut JNIEnv<'_>,
    args: &[&JByteArray<'_>],
    f: impl FnOnce(&[Vec<u8>]) -> Result<Vec<u8>, String>,
) -> jbyteArray {
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<jbyteArray, String> {
        let mut bytes = Vec::with_capacity(args.len());
        for a in args {
            if a.is_null() {
                return Err("veil: a NULL argument reached the native library".into());
            }
            bytes.push(env.convert_byte_array(*a).map_err(|e| format!("veil: reading an argument: {e}"))?);
        }
        let out = f(&bytes)?;
        env.byte_array_from_slice(&out).map(JByteArray::into_raw).map_err(|e| format!("veil: returning: {e}"))
    }));
    let message = match outcome {
        Ok(Ok(array)) => return array,
        Ok(Err(message)) => message,
        Err(_) => "veil: internal error (panic) in the native library".to_string(),
    };
    // A pending Java exception (from a failed JNI call) is thrown as is.
    if !env.exception_check().unwrap_or(true) {
        let _ = env.throw_new("java/lang/IllegalArgumentException", message);
    }
    JObject::null().into_raw()
}

fn arg(bytes: &[Vec<u8>], i: usize) -> &[u8] {
    bytes.get(i).map_or(&[], Vec::as_slice)
}

/// `Native.ff1(byte[] key, byte[] scope, byte[] value)`: see [`ff1`].
#[no_mangle]
pub extern "system" fn Java_veil_spark_udf_Native_ff1<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    key: JByteArray<'l>,
    scope: JByteArray<'l>,
    value: JByteArray<'l>,
) -> jbyteArray {
    call(&mut env, &[&key, &scope, &value], |a| ff1(arg(a, 0), arg(a, 1), arg(a, 2)))
}

/// `Native.token(byte[] key, byte[] scope, byte[] value)`: see [`token`].
#[no_mangle]
pub extern "system" fn Java_veil_spark_udf_Native_token<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    key: JByteArray<'l>,
    scope: JByteArray<'l>,
    value: JByteArray<'l>,
) -> jbyteArray {
    call(&mut env, &[&key, &scope, &value], |a| token(arg(a, 0), arg(a, 1), arg(a, 2)))
}

/// `Native.hash(byte[] key, byte[] value)`: see [`hash`].
#[no_mangle]
pub extern "system" fn Java_veil_spark_udf_Native_hash<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    key: JByteArray<'l>,
    value: JByteArray<'l>,
) -> jbyteArray {
    call(&mut env, &[&key, &value], |a| hash(arg(a, 0), arg(a, 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use veil_core::{Key, Purpose};

    #[test]
    fn same_bytes_as_veil_core_from_the_master_key() {
        let key = Key::from_bytes([9; 32]);
        let scope = Scope::source("main.customers");
        let ff1_key = key.derive(Purpose::Ff1, &scope);
        let token_key = key.derive(Purpose::Token, &scope);
        let hash_key = key.derive(Purpose::Hash, &scope);
        let s = b"source:main.customers";
        assert_eq!(
            ff1(&ff1_key, s, "4111-1111-1111".as_bytes()).unwrap(),
            veil_core::mask::format_preserving_encrypt(&key, &scope, "4111-1111-1111").unwrap().into_bytes()
        );
        assert_eq!(
            token(&token_key, s, b"x").unwrap(),
            veil_core::mask::reversible_mask(&key, &scope, b"x").into_bytes()
        );
        assert_eq!(hash(&hash_key, b"a").unwrap(), veil_core::mask::keyed_hash(&key, &scope, b"a").into_bytes());
        // The cache follows the scope: another source gives another value.
        let other = key.derive(Purpose::Ff1, &Scope::source("main.orders"));
        assert_ne!(
            ff1(&other, b"source:main.orders", b"4111-1111-1111").unwrap(),
            ff1(&ff1_key, s, b"4111-1111-1111").unwrap()
        );
    }

    #[test]
    fn refusals_name_the_problem() {
        assert!(ff1(&[0; 31], b"source:a", b"123456").unwrap_err().contains("32 bytes"));
        assert!(token(&[0; 32], b"nonsense", b"x").unwrap_err().contains("scope"));
        assert!(ff1(&[0; 32], b"source:a", b"12").unwrap_err().starts_with("veil: "));
        assert!(ff1(&[0; 32], b"source:a", b"\xff\xfe").unwrap_err().contains("UTF-8"));
    }
}
