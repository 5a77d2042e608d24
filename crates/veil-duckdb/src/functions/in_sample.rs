//! `veil_in_sample(row_key, key_id, scope, percent)`: is the row in the reproducible
//! `percent` % sample? The same rows for every reader and every run.

use duckdb::core::LogicalTypeId::{Boolean, Double, Varchar};
use duckdb::vtab::arrow::WritableVector;
use veil_core::rows::Sampler;

use super::{core_error, signature, PerScope};
use crate::vector::{bool_out, BoxError, Input};

/// SQL name.
pub const NAME: &str = "veil_in_sample";

super::scalar!(InSample, NAME, run, vec![signature(&[Varchar, Varchar, Varchar, Double], Boolean)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (keys, key_ids, scopes, percents) = (input.strings(0)?, input.strings(1)?, input.strings(2)?, input.f64s(3)?);
    let mut out = bool_out(output, rows)?;
    let mut samplers = PerScope::default();
    for row in 0..rows {
        let (Some(row_key), Some(key_id), Some(scope), Some(percent)) =
            (keys.bytes(row), key_ids.bytes(row), scopes.bytes(row), percents.get(row))
        else {
            out.put(row, None);
            continue;
        };
        let sampler = samplers.get(key_id, scope, None, percent.to_bits(), |key, scope| {
            Sampler::new(key, scope, percent).map_err(core_error)
        })?;
        out.set(row, sampler.contains(row_key));
    }
    Ok(())
}
