//! `veil_hash(value, key_id, scope [, reader])`: keyed HMAC-SHA-256 as lowercase hex.

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::{KeyedHasher, HASH_HEX_LEN};

use super::{signature, PerScope};
use crate::vector::{BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_hash";

super::scalar!(
    Hash,
    NAME,
    run,
    vec![signature(&[Varchar, Varchar, Varchar], Varchar), signature(&[Varchar, Varchar, Varchar, Varchar], Varchar)]
);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, key_ids, scopes) = (input.strings(0)?, input.strings(1)?, input.strings(2)?);
    let readers = if input.columns() > 3 { Some(input.strings(3)?) } else { None };
    let mut out = TextOut::new(output, rows)?;
    let mut hashers = PerScope::default();
    let mut hex = [0u8; HASH_HEX_LEN];
    for row in 0..rows {
        let reader = match &readers {
            None => Some(None),
            Some(readers) => readers.bytes(row).map(Some),
        };
        let (Some(value), Some(key_id), Some(scope), Some(reader)) =
            (values.bytes(row), key_ids.bytes(row), scopes.bytes(row), reader)
        else {
            out.set_null(row);
            continue;
        };
        let hasher = hashers.get(key_id, scope, reader, 0, |key, scope| Ok(KeyedHasher::new(key, scope)))?;
        hasher.hash_into(value, &mut hex);
        out.set_ascii(row, &hex);
    }
    Ok(())
}
