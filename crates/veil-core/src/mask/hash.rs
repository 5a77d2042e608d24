//! Keyed hash: HMAC-SHA-256 under a key derived for a scope, as lowercase hex.

use crate::hex;
use crate::key::{Key, Purpose, Scope};
use crate::mac::PreparedMac;

/// Length of a keyed hash in hex digits.
pub const HASH_HEX_LEN: usize = 64;

/// A keyed hasher for one scope: the key is derived and the HMAC states keyed
/// once, then each value costs two SHA-256 compressions (values under 56 bytes).
///
/// ```
/// use veil_core::{Key, Scope, mask::KeyedHasher};
/// let key = Key::from_bytes([7; 32]);
/// let customers = KeyedHasher::new(&key, &Scope::source("shop.customers"));
/// let orders = KeyedHasher::new(&key, &Scope::source("shop.orders"));
/// let a = customers.hash_hex(b"alice@example.com");
/// assert_eq!(a.len(), 64);
/// assert_eq!(a, customers.hash_hex(b"alice@example.com"));
/// assert_ne!(a, orders.hash_hex(b"alice@example.com"));
/// ```
#[derive(Clone)]
pub struct KeyedHasher {
    mac: PreparedMac,
}

impl KeyedHasher {
    /// Derive the hash key for `scope` and key the HMAC states.
    pub fn new(key: &Key, scope: &Scope) -> Self {
        Self { mac: PreparedMac::new(&key.derive(Purpose::Hash, scope)) }
    }

    /// HMAC-SHA-256 under `key` as given, with no derivation: the primitive under
    /// the keyed hash, exposed so it can be checked against RFC 4231.
    pub fn from_raw_key(key: &[u8]) -> Self {
        Self { mac: PreparedMac::new(key) }
    }

    /// The raw 32-byte HMAC of `value`.
    pub fn hash_raw(&self, value: &[u8]) -> [u8; 32] {
        self.mac.digest(value)
    }

    /// Write the hex hash of `value` into `out`, allocating nothing.
    pub fn hash_into(&self, value: &[u8], out: &mut [u8; HASH_HEX_LEN]) {
        hex::encode32(&self.mac.digest(value), out);
    }

    /// [`KeyedHasher::hash_into`] of two values at once: equal to two calls, but
    /// the two values' SHA-256 compressions are issued side by side, which a CPU
    /// overlaps (each alone waits on SHA-NI's latency).
    pub fn hash_pair_into(&self, values: [&[u8]; 2], out: &mut [[u8; HASH_HEX_LEN]; 2]) {
        let [digest_a, digest_b] = self.mac.digest_pair(values);
        let [out_a, out_b] = out;
        hex::encode32(&digest_a, out_a);
        hex::encode32(&digest_b, out_b);
    }

    /// The hex hash of `value`.
    pub fn hash_hex(&self, value: &[u8]) -> String {
        let mut out = [0u8; HASH_HEX_LEN];
        self.hash_into(value, &mut out);
        // Hex digits are ASCII, so this is always valid UTF-8.
        core::str::from_utf8(&out).map(str::to_owned).unwrap_or_default()
    }

    /// Batch form: NULLs stay NULL.
    pub fn hash_batch(&self, values: &[Option<&[u8]>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(|v| self.hash_hex(v))).collect()
    }
}

/// Scalar keyed hash of `value` in `scope`.
///
/// ```
/// use veil_core::{Key, Scope, mask::keyed_hash};
/// let key = Key::from_bytes([7; 32]);
/// let h = keyed_hash(&key, &Scope::project("growth"), b"alice@example.com");
/// assert!(h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// ```
pub fn keyed_hash(key: &Key, scope: &Scope, value: &[u8]) -> String {
    KeyedHasher::new(key, scope).hash_hex(value)
}

/// Batch keyed hash: the key is derived once for the whole slice.
pub fn keyed_hash_batch(key: &Key, scope: &Scope, values: &[Option<&[u8]>]) -> Vec<Option<String>> {
    KeyedHasher::new(key, scope).hash_batch(values)
}
