//! `veil_round_places(value, places)`: round a DOUBLE to `places` decimal places
//! (negative: to tens, hundreds, …), half away from zero.

use duckdb::core::LogicalTypeId::{Double, Integer};
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::round_places;

use super::signature;
use crate::vector::{f64_out, BoxError, Input};

/// SQL name.
pub const NAME: &str = "veil_round_places";

super::scalar!(RoundPlaces, NAME, run, vec![signature(&[Double, Integer], Double)]);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, places) = (input.f64s(0)?, input.i32s(1)?);
    let mut out = f64_out(output, rows)?;
    for row in 0..rows {
        out.put(row, values.get(row).zip(places.get(row)).map(|(v, p)| round_places(v, p)));
    }
    Ok(())
}
