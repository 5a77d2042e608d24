//! `veil_token(value, key_id, scope)`: a deterministic, authenticated, reversible
//! token (AES-SIV) that `veil_unmask` opens in the same scope.

use duckdb::core::LogicalTypeId::{Blob, Varchar};
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::Tokenizer;

use super::{signature, PerScope};
use crate::vector::{BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_token";

super::scalar!(
    Token,
    NAME,
    run,
    vec![signature(&[Varchar, Varchar, Varchar], Varchar), signature(&[Blob, Varchar, Varchar], Varchar)]
);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, key_ids, scopes) = (input.strings(0)?, input.strings(1)?, input.strings(2)?);
    let mut out = TextOut::new(output, rows)?;
    let mut tokenizers = PerScope::default();
    for row in 0..rows {
        let (Some(value), Some(key_id), Some(scope)) = (values.bytes(row), key_ids.bytes(row), scopes.bytes(row))
        else {
            out.set_null(row);
            continue;
        };
        let tokenizer = tokenizers.get(key_id, scope, None, 0, |key, scope| Ok(Tokenizer::new(key, scope)))?;
        out.set(row, &tokenizer.mask(value));
    }
    Ok(())
}
