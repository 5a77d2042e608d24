//! `veil_unmask(token, key_id, scope)`: the value inside a `veil_token` token. A token
//! that was altered or made under another key or scope is an error, never a guess.

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::Tokenizer;

use super::{core_error, signature, PerScope};
use crate::vector::{BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_unmask";

super::scalar!(Unmask, NAME, run, vec![signature(&[Varchar, Varchar, Varchar], Varchar)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (tokens, key_ids, scopes) = (input.strings(0)?, input.strings(1)?, input.strings(2)?);
    let mut out = TextOut::new(output, rows)?;
    let mut tokenizers = PerScope::default();
    for row in 0..rows {
        let (Some(token), Some(key_id), Some(scope)) = (tokens.text(row)?, key_ids.bytes(row), scopes.bytes(row))
        else {
            out.set_null(row);
            continue;
        };
        let tokenizer = tokenizers.get(key_id, scope, None, 0, |key, scope| Ok(Tokenizer::new(key, scope)))?;
        let bytes = tokenizer.unmask(token).map_err(core_error)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| "the token holds bytes that are not UTF-8 text (a BLOB); they cannot be a VARCHAR")?;
        out.set(row, &text);
    }
    Ok(())
}
