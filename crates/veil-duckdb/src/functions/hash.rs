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
    let build = |key: &_, scope: &_| Ok(KeyedHasher::new(key, scope));

    // The usual case: one key id, scope (and reader) for the whole chunk.
    let reader = readers.as_ref().map(|r| r.constant());
    if let (Some(Some(key_id)), Some(Some(scope)), None | Some(Some(Some(_)))) =
        (key_ids.constant(), scopes.constant(), reader)
    {
        let hasher = hashers.get(key_id, scope, reader.flatten().flatten(), 0, build)?;
        // Rows go in pairs: a CPU overlaps two values' SHA-256 compressions.
        let mut waiting: Option<(usize, &[u8])> = None;
        let mut pair = [[0u8; HASH_HEX_LEN]; 2];
        for row in 0..rows {
            match (values.bytes(row), waiting.take()) {
                (Some(value), None) => waiting = Some((row, value)),
                (Some(value), Some((first, first_value))) => {
                    hasher.hash_pair_into([first_value, value], &mut pair);
                    let [first_hex, second_hex] = &pair;
                    out.set_ascii(first, first_hex);
                    out.set_ascii(row, second_hex);
                }
                (None, kept) => {
                    waiting = kept;
                    out.set_null(row);
                }
            }
        }
        if let Some((row, value)) = waiting {
            hasher.hash_into(value, &mut hex);
            out.set_ascii(row, &hex);
        }
        return Ok(());
    }

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
        let hasher = hashers.get(key_id, scope, reader, 0, build)?;
        hasher.hash_into(value, &mut hex);
        out.set_ascii(row, &hex);
    }
    Ok(())
}
