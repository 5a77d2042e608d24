//! `veil_round(value, width)`: round to the nearest multiple of `width`, half away
//! from zero. BIGINT, INTEGER and DOUBLE; the result has the input's type.
//!
//! DECIMAL is not a signature of its own: the C API (v1.2) matches DECIMAL
//! parameters by type id only and cannot derive a result type from the argument,
//! so one overload per scale is ambiguous and a single one would change the scale.
//! A DECIMAL argument therefore binds to the DOUBLE form; cast the result back
//! (`veil_round(price, 0.5)::DECIMAL(10, 2)`), as docs/functions.md shows.

use duckdb::core::LogicalTypeId::{Bigint, Double, Integer};
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::{round_int, FloatBucket};

use super::{core_error, signature};
use crate::vector::{f64_out, i32_out, i64_out, BoxError, Input};

/// SQL name.
pub const NAME: &str = "veil_round";

super::scalar!(
    Round,
    NAME,
    run,
    vec![
        signature(&[Bigint, Bigint], Bigint),
        signature(&[Integer, Integer], Integer),
        signature(&[Double, Double], Double),
    ]
);

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    match input.type_id(0) {
        Bigint => run_i64(input, output),
        Integer => run_i32(input, output),
        Double => run_f64(input, output),
        other => Err(format!("internal error: cannot round {other:?}").into()),
    }
}

fn run_i64(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, widths) = (input.i64s(0)?, input.i64s(1)?);
    let mut out = i64_out(output, rows)?;
    for row in 0..rows {
        let result = match (values.get(row), widths.get(row)) {
            (Some(v), Some(w)) => Some(round_int(v, w).map_err(core_error)?),
            _ => None,
        };
        out.put(row, result);
    }
    Ok(())
}

fn run_i32(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, widths) = (input.i32s(0)?, input.i32s(1)?);
    let mut out = i32_out(output, rows)?;
    for row in 0..rows {
        let result = match (values.get(row), widths.get(row)) {
            (Some(v), Some(w)) => {
                let rounded = round_int(i64::from(v), i64::from(w)).map_err(core_error)?;
                // Past i32's range, step one width toward zero, as round_int does for i64.
                Some(i32::try_from(rounded).unwrap_or_else(|_| {
                    let toward_zero = if rounded > 0 { rounded - i64::from(w) } else { rounded + i64::from(w) };
                    i32::try_from(toward_zero).unwrap_or(v)
                }))
            }
            _ => None,
        };
        out.put(row, result);
    }
    Ok(())
}

fn run_f64(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (values, widths) = (input.f64s(0)?, input.f64s(1)?);
    let mut out = f64_out(output, rows)?;
    let mut bucket: Option<(u64, FloatBucket)> = None;
    for row in 0..rows {
        let (Some(v), Some(w)) = (values.get(row), widths.get(row)) else {
            out.put(row, None);
            continue;
        };
        let b = match bucket {
            Some((bits, b)) if bits == w.to_bits() => b,
            _ => {
                let b = FloatBucket::new(w).map_err(core_error)?;
                bucket = Some((w.to_bits(), b));
                b
            }
        };
        out.set(row, b.apply(v));
    }
    Ok(())
}
