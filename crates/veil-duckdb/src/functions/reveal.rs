//! `veil_reveal_first(value, n, fill)` and `veil_reveal_last(value, n, fill)`: keep
//! the first or last `n` characters, replace the others with `fill`.

use duckdb::core::LogicalTypeId::{Bigint, Varchar};
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::{reveal, Keep};

use super::{signature, utf8};
use crate::vector::{BoxError, Input, TextOut};

/// SQL name of the keep-the-first form.
pub const FIRST: &str = "veil_reveal_first";
/// SQL name of the keep-the-last form.
pub const LAST: &str = "veil_reveal_last";

super::scalar!(RevealFirst, FIRST, run_first, vec![signature(&[Varchar, Bigint, Varchar], Varchar)]);
super::scalar!(RevealLast, LAST, run_last, vec![signature(&[Varchar, Bigint, Varchar], Varchar)]);

fn run_first(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    run(input, output, Keep::First)
}

fn run_last(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    run(input, output, Keep::Last)
}

fn run(input: &Input<'_>, output: &mut dyn WritableVector, keep: fn(usize) -> Keep) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, counts, fills) = (input.strings(0)?, input.i64s(1)?, input.strings(2)?);
    let mut out = TextOut::new(output, rows)?;
    for row in 0..rows {
        let (Some(value), Some(count), Some(fill)) = (values.text(row)?, counts.get(row), fills.bytes(row)) else {
            out.set_null(row);
            continue;
        };
        let count = usize::try_from(count).map_err(|_| {
            format!("invalid argument: characters to keep must be 0 or more, got `{count}` [invalid_argument]")
        })?;
        let mut chars = utf8(fill, "the fill")?.chars();
        let (Some(fill), None) = (chars.next(), chars.next()) else {
            return Err("invalid argument: the fill must be exactly one character [invalid_argument]".into());
        };
        out.set(row, &reveal(value, keep(count), fill));
    }
    Ok(())
}
