//! Masks: functions that replace a value with what a reader may see.

mod alphabet;
mod dates;
mod ff1;
mod fpe;
mod hash;
mod partial;
mod regex;
mod round;
mod simple;
mod token;

pub use dates::{trunc_date_days, trunc_iso, trunc_iso_batch, trunc_timestamp_micros, DateUnit};
pub use ff1::Ff1;
pub use fpe::{format_preserving_decrypt, format_preserving_encrypt, FormatPreserving};
pub use hash::{keyed_hash, keyed_hash_batch, KeyedHasher, HASH_HEX_LEN};
pub use partial::{email_mask, email_mask_batch, reveal, reveal_batch, Keep, EMAIL_LOCAL_FILL};
pub use regex::{regex_mask, RegexMask};
pub use round::{round_decimal, round_int, round_places, FloatBucket};
pub use simple::{null_mask, Constant, ValueType};
pub use token::{reversible_mask, reversible_unmask, Tokenizer, TOKEN_PREFIX};
