//! `veil_mask_email(value)`: hide the local part of an e-mail address.

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::email_mask;

use super::signature;
use crate::vector::{BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_mask_email";

super::scalar!(MaskEmail, NAME, run, vec![signature(&[Varchar], Varchar)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let values = input.strings(0)?;
    let mut out = TextOut::new(output, rows)?;
    for row in 0..rows {
        match values.text(row)? {
            Some(value) => out.set(row, &email_mask(value)),
            None => out.set_null(row),
        }
    }
    Ok(())
}
