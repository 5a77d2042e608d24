//! HMAC-SHA-256 with the keyed inner and outer states computed once.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA-256 under one key, with the key schedule done once: each message
/// costs the compressions of its own blocks plus one for the outer hash.
#[derive(Clone)]
pub(crate) struct PreparedMac {
    keyed: HmacSha256,
}

impl PreparedMac {
    pub(crate) fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length: the fallback is never taken.
        let keyed = HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        Self { keyed }
    }

    pub(crate) fn digest(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}
