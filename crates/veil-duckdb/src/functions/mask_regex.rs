//! `veil_mask_regex(value, pattern, replacement)`: replace every match.
//!
//! The compiled mask is kept per thread across chunks (compiling costs more than
//! masking a chunk of short values), and each value is masked into one reused
//! buffer; a value nothing matches is written back as it came.

use std::cell::RefCell;
use std::rc::Rc;

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::RegexMask;

use super::{core_error, same, signature, utf8, PerText};
use crate::vector::{BoxError, Input, TextOut};

/// A (pattern, replacement) and its compiled mask.
type Compiled = (Vec<u8>, Vec<u8>, Rc<RegexMask>);

thread_local! {
    /// The last mask this thread compiled.
    static LAST: RefCell<Option<Compiled>> = const { RefCell::new(None) };
}

/// The mask for `pattern` and `replacement`, compiled once per thread while they stay the same.
fn kept(pattern: &[u8], replacement: &[u8]) -> Result<Rc<RegexMask>, BoxError> {
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((p, r, mask)) = last.as_ref() {
            if same(p, pattern) && same(r, replacement) {
                return Ok(Rc::clone(mask));
            }
        }
        let mask = Rc::new(compile(pattern, replacement)?);
        *last = Some((pattern.to_vec(), replacement.to_vec(), Rc::clone(&mask)));
        Ok(mask)
    })
}

fn compile(pattern: &[u8], replacement: &[u8]) -> Result<RegexMask, BoxError> {
    RegexMask::new(utf8(pattern, "a pattern")?, utf8(replacement, "a replacement")?).map_err(core_error)
}

/// SQL name.
pub const NAME: &str = "veil_mask_regex";

super::scalar!(MaskRegex, NAME, run, vec![signature(&[Varchar, Varchar, Varchar], Varchar)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, patterns, replacements) = (input.strings(0)?, input.strings(1)?, input.strings(2)?);
    let mut out = TextOut::new(output, rows)?;
    let mut masks = PerText::default();
    let mut buffer = String::new();

    // The usual case: one pattern and replacement for the whole chunk.
    if let (Some(Some(pattern)), Some(Some(replacement))) = (patterns.constant(), replacements.constant()) {
        let mask = kept(pattern, replacement)?;
        for row in 0..rows {
            match values.text(row)? {
                Some(value) if mask.apply_into(value, &mut buffer) => out.set(row, &buffer),
                Some(value) => out.set(row, value),
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
        if mask.apply_into(value, &mut buffer) {
            out.set(row, &buffer);
        } else {
            out.set(row, value);
        }
    }
    Ok(())
}
