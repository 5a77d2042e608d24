//! `veil_in_window(ts, now, window)`: is `ts` within `window` before `now`
//! (`ts >= now - window`)? `now` is an argument, never a clock read, so a result
//! can be reproduced. BIGINTs in one unit, or TIMESTAMPs with a BIGINT window in
//! microseconds or an INTERVAL (a month counts 30 days, as in DuckDB's `epoch_us`).

use duckdb::core::LogicalTypeId::{self, Bigint, Boolean, Interval, Timestamp, TimestampTZ};
use duckdb::vtab::arrow::WritableVector;
use veil_core::rows::in_window;

use super::signature;
use crate::vector::{bool_out, BoxError, Input, Interval as IntervalValue};

/// SQL name.
pub const NAME: &str = "veil_in_window";

super::scalar!(
    InWindow,
    NAME,
    run,
    vec![
        signature(&[Bigint, Bigint, Bigint], Boolean),
        signature(&[Timestamp, Timestamp, Bigint], Boolean),
        signature(&[Timestamp, Timestamp, Interval], Boolean),
        signature(&[TimestampTZ, TimestampTZ, Interval], Boolean),
    ]
);

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// An INTERVAL as microseconds, saturating (a month is 30 days).
fn interval_micros(i: IntervalValue) -> i64 {
    let days = i64::from(i.months).saturating_mul(30).saturating_add(i64::from(i.days));
    days.saturating_mul(MICROS_PER_DAY).saturating_add(i.micros)
}

fn run(input: &Input<'_>, output: &mut dyn WritableVector) -> Result<(), BoxError> {
    let rows = input.rows();
    let (times, nows) = (input.i64s(0)?, input.i64s(1)?);
    let mut out = bool_out(output, rows)?;
    if input.type_id(2) == LogicalTypeId::Interval {
        let windows = input.intervals(2)?;
        for row in 0..rows {
            let result = match (times.get(row), nows.get(row), windows.get(row)) {
                (Some(t), Some(n), Some(w)) => Some(in_window(t, n, interval_micros(w))),
                _ => None,
            };
            out.put(row, result);
        }
    } else {
        let windows = input.i64s(2)?;
        for row in 0..rows {
            let result = match (times.get(row), nows.get(row), windows.get(row)) {
                (Some(t), Some(n), Some(w)) => Some(in_window(t, n, w)),
                _ => None,
            };
            out.put(row, result);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_count_months_as_thirty_days() {
        let day = IntervalValue { months: 0, days: 1, micros: 0 };
        assert_eq!(interval_micros(day), MICROS_PER_DAY);
        let month = IntervalValue { months: 1, days: 0, micros: 5 };
        assert_eq!(interval_micros(month), 30 * MICROS_PER_DAY + 5);
        let huge = IntervalValue { months: i32::MAX, days: i32::MAX, micros: i64::MAX };
        assert_eq!(interval_micros(huge), i64::MAX);
    }
}
