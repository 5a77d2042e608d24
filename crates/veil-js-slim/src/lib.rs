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
//! The functions are veil-js's own exports, built without its `full` feature
//! (`veil-js/fpe-encrypt` with `ff1`, `veil-js/token-mask` with `token`): same
//! names, arguments and results, no code here. Decryption and unmasking are left
//! out on purpose, so a warehouse function built from these can mask and never
//! unmask.

pub use veil_js::*;
