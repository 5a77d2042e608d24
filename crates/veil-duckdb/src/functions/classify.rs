//! `veil_classify(value)`: the entity a value holds on its own (`EmailAddress`,
//! `CardNumber`, …) or NULL, by veil-core's classifier, as `veil discover` counts it.

use duckdb::core::LogicalTypeId::Varchar;
use duckdb::vtab::arrow::WritableVector;
use veil_core::classify::value_entity;

use super::signature;
use crate::vector::{BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_classify";

super::scalar!(Classify, NAME, run, vec![signature(&[Varchar], Varchar)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let values = input.strings(0)?;
    let mut out = TextOut::new(output, rows)?;
    for row in 0..rows {
        // Bytes that are not UTF-8 hold no entity (NULL), as NULL does.
        let entity = values.bytes(row).and_then(|b| std::str::from_utf8(b).ok()).and_then(value_entity);
        match entity {
            Some(e) => out.set_ascii(row, e.name().as_bytes()),
            None => out.set_null(row),
        }
    }
    Ok(())
}
