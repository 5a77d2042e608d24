//! Date and time truncation: to the minute, hour, day, month, quarter or year.
//!
//! Three forms: epoch microseconds (timestamps), epoch days (dates) and ISO-8601
//! text. Calendar arithmetic is proleptic Gregorian, UTC (text with an offset is
//! truncated in its own local time and keeps its offset).

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::{Error, Result};

const MICROS_PER_MINUTE: i64 = 60_000_000;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// The unit a date or time is truncated to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DateUnit {
    /// Start of the minute.
    Minute,
    /// Start of the hour.
    Hour,
    /// Start of the day.
    Day,
    /// First day of the month.
    Month,
    /// First day of the quarter.
    Quarter,
    /// First day of the year.
    Year,
}

impl DateUnit {
    /// Parse `minute`, `hour`, `day`, `month`, `quarter` or `year` (any case).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for any other word.
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "minute" => Ok(Self::Minute),
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "month" => Ok(Self::Month),
            "quarter" => Ok(Self::Quarter),
            "year" => Ok(Self::Year),
            _ => Err(Error::InvalidArgument(format!(
                "unknown date unit `{text}`; use minute, hour, day, month, quarter or year"
            ))),
        }
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil (year, month) of a day count since 1970-01-01.
fn year_month_from_days(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1))
}

/// Truncate a day count to the start of its month, quarter or year.
fn trunc_day_count(days: i64, unit: DateUnit) -> i64 {
    match unit {
        DateUnit::Minute | DateUnit::Hour | DateUnit::Day => days,
        DateUnit::Month | DateUnit::Quarter | DateUnit::Year => {
            let (year, month) = year_month_from_days(days);
            let month = match unit {
                DateUnit::Month => month,
                DateUnit::Quarter => (month - 1) / 3 * 3 + 1,
                _ => 1,
            };
            days_from_civil(year, month, 1)
        }
    }
}

/// Truncate a date given as days since 1970-01-01.
///
/// ```
/// use veil_core::mask::{trunc_date_days, DateUnit};
/// // 2024-05-17 is day 19860; 2024-05-01 is 19844, 2024-04-01 is 19814.
/// assert_eq!(trunc_date_days(19860, DateUnit::Month), 19844);
/// assert_eq!(trunc_date_days(19860, DateUnit::Quarter), 19814);
/// ```
pub fn trunc_date_days(days: i32, unit: DateUnit) -> i32 {
    let out = trunc_day_count(i64::from(days), unit);
    // The start of a month is never before i32::MIN days in practice; clamp anyway.
    i32::try_from(out).unwrap_or(days)
}

/// Truncate a timestamp given as microseconds since 1970-01-01T00:00:00 UTC.
///
/// ```
/// use veil_core::mask::{trunc_timestamp_micros, DateUnit};
/// let t = 1_715_950_245_123_456; // 2024-05-17T12:50:45.123456Z
/// assert_eq!(trunc_timestamp_micros(t, DateUnit::Hour), 1_715_947_200_000_000);
/// assert_eq!(trunc_timestamp_micros(t, DateUnit::Year), 1_704_067_200_000_000);
/// ```
pub fn trunc_timestamp_micros(micros: i64, unit: DateUnit) -> i64 {
    // The start of the period, or, where that lies before i64::MIN (the first
    // minute of time), the earliest period start that can be represented.
    let floor_to = |step: i64| {
        let start = i128::from(micros) - i128::from(micros.rem_euclid(step));
        i64::try_from(start).unwrap_or_else(|_| i64::try_from(start + i128::from(step)).unwrap_or(i64::MIN))
    };
    match unit {
        DateUnit::Minute => floor_to(MICROS_PER_MINUTE),
        DateUnit::Hour => floor_to(MICROS_PER_HOUR),
        DateUnit::Day => floor_to(MICROS_PER_DAY),
        _ => trunc_day_count(micros.div_euclid(MICROS_PER_DAY), unit).saturating_mul(MICROS_PER_DAY),
    }
}

/// Truncate ISO-8601 text: `YYYY-MM-DD`, `YYYY-MM-DD[T| ]HH:MM[:SS[.f]]`, optionally
/// with `Z` or `±HH:MM`. The result has the same shape as the input (a date stays a
/// date; the separator and offset are kept), seconds always written.
///
/// ```
/// use veil_core::mask::{trunc_iso, DateUnit};
/// assert_eq!(trunc_iso("2024-05-17", DateUnit::Month).unwrap(), "2024-05-01");
/// assert_eq!(trunc_iso("2024-05-17T12:50:45.5Z", DateUnit::Hour).unwrap(), "2024-05-17T12:00:00Z");
/// assert_eq!(trunc_iso("2024-05-17 12:50:45+02:00", DateUnit::Day).unwrap(), "2024-05-17 00:00:00+02:00");
/// assert!(trunc_iso("17/05/2024", DateUnit::Day).is_err());
/// ```
///
/// # Errors
/// [`Error::Parse`] when the text is not one of those forms.
pub fn trunc_iso(text: &str, unit: DateUnit) -> Result<String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let days = date.signed_duration_since(epoch_date()).num_days();
        let truncated = epoch_date()
            .checked_add_signed(chrono::TimeDelta::days(trunc_day_count(days, unit)))
            .ok_or_else(|| parse_error("a date in range", "out of range".into()))?;
        return Ok(truncated.format("%Y-%m-%d").to_string());
    }
    let separator = if text.get(10..11) == Some(" ") { ' ' } else { 'T' };
    let (body, suffix) = split_offset(text);
    let naive = parse_naive(body)?;
    let micros = naive.and_utc().timestamp_micros();
    let truncated = DateTime::from_timestamp_micros(trunc_timestamp_micros(micros, unit))
        .ok_or_else(|| parse_error("a timestamp in range", "out of range".into()))?
        .naive_utc();
    let format = if separator == ' ' { "%Y-%m-%d %H:%M:%S" } else { "%Y-%m-%dT%H:%M:%S" };
    Ok(format!("{}{}", truncated.format(format), suffix))
}

/// Batch form of [`trunc_iso`]: NULLs stay NULL; the first bad value fails the batch.
///
/// # Errors
/// As [`trunc_iso`].
pub fn trunc_iso_batch(values: &[Option<&str>], unit: DateUnit) -> Result<Vec<Option<String>>> {
    values.iter().map(|v| v.map(|v| trunc_iso(v, unit)).transpose()).collect()
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn parse_error(expected: &'static str, reason: String) -> Error {
    Error::Parse { expected, reason }
}

/// Split a trailing `Z` or `±HH:MM` offset from a timestamp's text.
fn split_offset(text: &str) -> (&str, &str) {
    let at = if text.ends_with(['Z', 'z']) {
        text.len() - 1
    } else {
        let tail = text.len().saturating_sub(6);
        let b = text.as_bytes();
        if tail > 10 && matches!(b.get(tail), Some(b'+' | b'-')) && b.get(tail + 3) == Some(&b':') {
            tail
        } else {
            text.len()
        }
    };
    match (text.get(..at), text.get(at..)) {
        (Some(body), Some(offset)) => (body, offset),
        _ => (text, ""),
    }
}

fn parse_naive(body: &str) -> Result<NaiveDateTime> {
    const FORMATS: [&str; 4] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(body, f).ok())
        .ok_or_else(|| parse_error("an ISO-8601 date or timestamp", "expected YYYY-MM-DD[THH:MM[:SS]]".into()))
}

/// Days since 1970-01-01 of `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Result<i32> {
    let date =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| parse_error("an ISO-8601 date", e.to_string()))?;
    i32::try_from(date.signed_duration_since(epoch_date()).num_days())
        .map_err(|_| parse_error("an ISO-8601 date", "out of range".into()))
}

/// Microseconds since the epoch of a naive ISO-8601 timestamp.
pub(crate) fn parse_timestamp_micros(text: &str) -> Result<i64> {
    Ok(parse_naive(text)?.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_conversions_agree_with_chrono() {
        for days in (-800_000i64..800_000).step_by(997) {
            let date = epoch_date() + chrono::TimeDelta::days(days);
            let (y, m) = year_month_from_days(days);
            assert_eq!((y, m), (i64::from(chrono::Datelike::year(&date)), chrono::Datelike::month(&date)));
            assert_eq!(days_from_civil(y, m, chrono::Datelike::day(&date)), days);
        }
    }

    #[test]
    fn negative_timestamps_floor_toward_the_past() {
        // 1969-12-31T23:30:00Z truncated to the day is 1969-12-31T00:00:00Z.
        assert_eq!(trunc_timestamp_micros(-30 * MICROS_PER_MINUTE, DateUnit::Day), -MICROS_PER_DAY);
        assert_eq!(trunc_date_days(-1, DateUnit::Year), -365);
    }

    #[test]
    fn the_edges_of_time_do_not_overflow() {
        for unit in
            [DateUnit::Minute, DateUnit::Hour, DateUnit::Day, DateUnit::Month, DateUnit::Quarter, DateUnit::Year]
        {
            let t = trunc_timestamp_micros(i64::MIN, unit);
            assert_eq!(trunc_timestamp_micros(t, unit), t, "{unit:?}");
            let t = trunc_timestamp_micros(i64::MAX, unit);
            assert_eq!(trunc_timestamp_micros(t, unit), t, "{unit:?}");
        }
        assert_eq!(trunc_timestamp_micros(i64::MIN, DateUnit::Minute) % MICROS_PER_MINUTE, 0);
    }

    #[test]
    fn units_parse() {
        assert_eq!(DateUnit::parse(" Month ").unwrap(), DateUnit::Month);
        assert!(DateUnit::parse("fortnight").unwrap_err().to_string().contains("`fortnight`"));
    }
}
