//! Masks: functions that replace a value with what a reader may see.

mod hash;

pub use hash::{keyed_hash, keyed_hash_batch, KeyedHasher, HASH_HEX_LEN};
