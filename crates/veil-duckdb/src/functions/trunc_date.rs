//! `veil_trunc_date(value, unit)`: truncate a DATE, TIMESTAMP or ISO-8601 VARCHAR to
//! the start of its minute, hour, day, month, quarter or year. The result has the
//! input's type; infinite dates and timestamps stay infinite.

use duckdb::core::LogicalTypeId::{Date, Timestamp, Varchar};
use duckdb::ffi::duckdb_string_t;
use duckdb::vtab::arrow::WritableVector;
use veil_core::mask::{trunc_date_days, trunc_iso, trunc_timestamp_micros, DateUnit};

use super::{core_error, signature, utf8, PerText};
use crate::vector::{i32_out, i64_out, BoxError, Column, Input, TextOut};

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

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The unit of each row: parsed once when the chunk's unit is constant.
struct Units<'a> {
    column: Column<'a, duckdb_string_t>,
    fixed: Option<Option<DateUnit>>,
    cache: PerText<DateUnit>,
}

impl<'a> Units<'a> {
    fn new(column: Column<'a, duckdb_string_t>) -> Result<Self, BoxError> {
        let mut cache = PerText::default();
        let fixed = match column.constant() {
            Some(Some(text)) => Some(Some(parse(&mut cache, text)?)),
            Some(None) => Some(None),
            None => None,
        };
        Ok(Self { column, fixed, cache })
    }

    #[inline]
    fn get(&mut self, row: usize) -> Result<Option<DateUnit>, BoxError> {
        match self.fixed {
            Some(unit) => Ok(unit),
            None => self.column.bytes(row).map(|text| parse(&mut self.cache, text)).transpose(),
        }
    }
}

fn parse(cache: &mut PerText<DateUnit>, text: &[u8]) -> Result<DateUnit, BoxError> {
    cache.get(text, &[], |t, _| DateUnit::parse(utf8(t, "a unit")?).map_err(core_error)).copied()
}

/// The last period seen, `[start, end)`: values in it truncate to `start` without
/// recomputing the calendar (dates in a chunk are often near each other). The
/// result is always veil-core's: `start` and `end` come from it.
#[derive(Default)]
struct Period {
    span: Option<(i64, i64, DateUnit)>,
}

impl Period {
    #[inline]
    fn truncate(&mut self, value: i64, unit: DateUnit, trunc: impl Fn(i64) -> i64, day: i64) -> i64 {
        if let Some((start, end, u)) = self.span {
            if u == unit && start <= value && value < end {
                return start;
            }
        }
        let start = trunc(value);
        // A step that always lands inside the next period (months are 28–31 days,
        // quarters 90–92, years 365–366), so truncating it gives the period's end.
        let step = match unit {
            DateUnit::Month => 31 * day,
            DateUnit::Quarter => 92 * day,
            DateUnit::Year => 366 * day,
            DateUnit::Day => day,
            DateUnit::Hour => day / 24,
            _ => day / 1440,
        };
        self.span = start.checked_add(step.max(1)).map(|next| (start, trunc(next), unit));
        start
    }
}

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let mut units = Units::new(input.strings(1)?)?;
    let mut period = Period::default();
    match input.type_id(0) {
        Date => {
            let values = input.i32s(0)?;
            let mut out = i32_out(output, rows)?;
            for row in 0..rows {
                let (Some(days), Some(unit)) = (values.get(row), units.get(row)?) else {
                    out.put(row, None);
                    continue;
                };
                // DuckDB's infinite dates are ±i32::MAX.
                if days.unsigned_abs() == i32::MAX.unsigned_abs() {
                    out.set(row, days);
                    continue;
                }
                let trunc = |d: i64| i64::from(trunc_date_days(i32::try_from(d).unwrap_or(days), unit));
                let start = period.truncate(i64::from(days), unit, trunc, 1);
                out.set(row, i32::try_from(start).unwrap_or(days));
            }
        }
        Timestamp => {
            let values = input.i64s(0)?;
            let mut out = i64_out(output, rows)?;
            for row in 0..rows {
                let (Some(micros), Some(unit)) = (values.get(row), units.get(row)?) else {
                    out.put(row, None);
                    continue;
                };
                if micros.unsigned_abs() == i64::MAX.unsigned_abs() {
                    out.set(row, micros);
                    continue;
                }
                out.set(row, period.truncate(micros, unit, |t| trunc_timestamp_micros(t, unit), MICROS_PER_DAY));
            }
        }
        _ => {
            let values = input.strings(0)?;
            let mut out = TextOut::new(output, rows)?;
            for row in 0..rows {
                let (Some(text), Some(unit)) = (values.text(row)?, units.get(row)?) else {
                    out.set_null(row);
                    continue;
                };
                out.set(row, &trunc_iso(text, unit).map_err(core_error)?);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_periods_agree_with_the_core_for_every_day_and_unit() {
        for unit in [DateUnit::Day, DateUnit::Month, DateUnit::Quarter, DateUnit::Year] {
            let mut period = Period::default();
            for days in (-800_000..800_000).chain((-3000..3000).rev()) {
                let trunc = |d: i64| i64::from(trunc_date_days(d as i32, unit));
                assert_eq!(period.truncate(days, unit, trunc, 1), trunc(days), "{days} {unit:?}");
            }
        }
    }

    #[test]
    fn cached_periods_agree_with_the_core_for_timestamps() {
        for unit in [DateUnit::Minute, DateUnit::Hour, DateUnit::Day, DateUnit::Month, DateUnit::Year] {
            let mut period = Period::default();
            let mut t = -5 * 365 * MICROS_PER_DAY;
            while t < 5 * 365 * MICROS_PER_DAY {
                let trunc = |x: i64| trunc_timestamp_micros(x, unit);
                assert_eq!(period.truncate(t, unit, trunc, MICROS_PER_DAY), trunc(t), "{t} {unit:?}");
                t += 7_777_777_777;
            }
        }
    }
}
