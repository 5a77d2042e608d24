//! `veil_mask_regex(value, pattern, replacement)`: replace every match.

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::RegexMask;

use super::{core_error, signature, utf8, PerText};
use crate::vector::{BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_mask_regex";

super::scalar!(MaskRegex, NAME, run, vec![signature(&[Varchar, Varchar, Varchar], Varchar)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, patterns, replacements) = (input.strings(0)?, input.strings(1)?, input.strings(2)?);
    let mut out = TextOut::new(output, rows)?;
    let mut masks = PerText::default();
    let compile =
        |p: &[u8], r: &[u8]| RegexMask::new(utf8(p, "a pattern")?, utf8(r, "a replacement")?).map_err(core_error);

    // The usual case: one pattern and replacement for the whole chunk.
    if let (Some(Some(pattern)), Some(Some(replacement))) = (patterns.constant(), replacements.constant()) {
        let mask = masks.get(pattern, replacement, compile)?;
        for row in 0..rows {
            match values.text(row)? {
                Some(value) => out.set(row, &mask.apply(value)),
                None => out.set_null(row),
            }
        }
        return Ok(());
    }

    for row in 0..rows {
        let (Some(value), Some(pattern), Some(replacement)) =
            (values.text(row)?, patterns.bytes(row), replacements.bytes(row))
        else {
            out.set_null(row);
            continue;
        };
        let mask = masks.get(pattern, replacement, compile)?;
        out.set(row, &mask.apply(value));
    }
    Ok(())
}
