//! `veil_fpe_encrypt(value, key_id, scope)` and `veil_fpe_decrypt(value, key_id, scope)`:
//! format-preserving encryption (NIST FF1) of the digits and letters of a value.

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::FormatPreserving;

use super::{core_error, signature, PerScope};
use crate::vector::{BoxError, Input, TextOut};

/// SQL name of the encrypting form.
pub const ENCRYPT: &str = "veil_fpe_encrypt";
/// SQL name of the decrypting form.
pub const DECRYPT: &str = "veil_fpe_decrypt";

super::scalar!(FpeEncrypt, ENCRYPT, run_encrypt, vec![signature(&[Varchar, Varchar, Varchar], Varchar)]);
super::scalar!(FpeDecrypt, DECRYPT, run_decrypt, vec![signature(&[Varchar, Varchar, Varchar], Varchar)]);

fn run_encrypt(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    run(input, output, true)
}

fn run_decrypt(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    run(input, output, false)
}

fn run(input: &Input<'_>, output: &mut dyn WritableVector, encrypt: bool) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, key_ids, scopes) = (input.strings(0)?, input.strings(1)?, input.strings(2)?);
    let mut out = TextOut::new(output, rows)?;
    let mut ciphers = PerScope::default();
    for row in 0..rows {
        let (Some(value), Some(key_id), Some(scope)) = (values.text(row)?, key_ids.bytes(row), scopes.bytes(row))
        else {
            out.set_null(row);
            continue;
        };
        let fp = ciphers.get(key_id, scope, None, 0, |key, scope| Ok(FormatPreserving::new(key, scope)))?;
        let result = if encrypt { fp.encrypt(value) } else { fp.decrypt(value) };
        out.set(row, &result.map_err(core_error)?);
    }
    Ok(())
}
