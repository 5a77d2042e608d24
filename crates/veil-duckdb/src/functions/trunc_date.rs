//! `veil_trunc_date(value, unit)`: truncate a DATE, TIMESTAMP or ISO-8601 VARCHAR to
//! the start of its minute, hour, day, month, quarter or year. The result has the
//! input's type; infinite dates and timestamps stay infinite.

use duckdb::core::LogicalTypeId::{Date, Timestamp, Varchar};
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::{trunc_date_days, trunc_iso, trunc_timestamp_micros, DateUnit};

use super::{core_error, signature, utf8, PerText};
use crate::vector::{i32_out, i64_out, BoxError, Input, TextOut};

/// SQL name.
pub const NAME: &str = "veil_trunc_date";

super::scalar!(
    TruncDate,
    NAME,
    run,
    vec![
        signature(&[Date, Varchar], Date),
        signature(&[Timestamp, Varchar], Timestamp),
        signature(&[Varchar, Varchar], Varchar),
    ]
);

fn unit(units: &mut PerText<DateUnit>, text: &[u8]) -> Result<DateUnit, BoxError> {
    units.get(text, &[], |t, _| DateUnit::parse(utf8(t, "a unit")?).map_err(core_error)).copied()
}

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let units_in = input.strings(1)?;
    let mut units = PerText::default();
    match input.type_id(0) {
        Date => {
            let values = input.i32s(0)?;
            let mut out = i32_out(output, rows)?;
            for row in 0..rows {
                let (Some(days), Some(u)) = (values.get(row), units_in.bytes(row)) else {
                    out.put(row, None);
                    continue;
                };
                let u = unit(&mut units, u)?;
                // DuckDB's infinite dates are ±i32::MAX.
                out.set(row, if days.unsigned_abs() == i32::MAX as u32 { days } else { trunc_date_days(days, u) });
            }
        }
        Timestamp => {
            let values = input.i64s(0)?;
            let mut out = i64_out(output, rows)?;
            for row in 0..rows {
                let (Some(micros), Some(u)) = (values.get(row), units_in.bytes(row)) else {
                    out.put(row, None);
                    continue;
                };
                let u = unit(&mut units, u)?;
                let infinite = micros.unsigned_abs() == i64::MAX as u64;
                out.set(row, if infinite { micros } else { trunc_timestamp_micros(micros, u) });
            }
        }
        _ => {
            let values = input.strings(0)?;
            let mut out = TextOut::new(output, rows)?;
            for row in 0..rows {
                let (Some(text), Some(u)) = (values.text(row)?, units_in.bytes(row)) else {
                    out.set_null(row);
                    continue;
                };
                let u = unit(&mut units, u)?;
                out.set(row, &trunc_iso(text, u).map_err(core_error)?);
            }
        }
    }
    Ok(())
}
