//! The null mask and typed constants.

use crate::{Error, Result};

/// The type of the column a constant replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueType {
    /// Text (VARCHAR).
    Text,
    /// A 64-bit integer.
    Integer,
    /// A double-precision float.
    Float,
    /// A fixed-point decimal with `scale` digits after the point.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// A boolean.
    Boolean,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
    /// A timestamp (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
    Timestamp,
}

impl core::fmt::Display for ValueType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ValueType::Text => f.write_str("text"),
            ValueType::Integer => f.write_str("integer"),
            ValueType::Float => f.write_str("float"),
            ValueType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ValueType::Boolean => f.write_str("boolean"),
            ValueType::Date => f.write_str("date"),
            ValueType::Timestamp => f.write_str("timestamp"),
        }
    }
}

/// A constant checked against the column type it replaces.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Constant {
    /// Text.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A decimal as its unscaled integer and scale (`12.50` is `1250`, scale 2).
    Decimal {
        /// The value times 10^scale.
        unscaled: i128,
        /// Digits after the point.
        scale: u8,
    },
    /// A boolean.
    Boolean(bool),
    /// A date, in days since 1970-01-01.
    Date(i32),
    /// A timestamp, in microseconds since 1970-01-01T00:00:00.
    Timestamp(i64),
}

impl Constant {
    /// Parse `literal` as a constant of column type `ty`.
    ///
    /// ```
    /// use veil_core::mask::{Constant, ValueType};
    /// assert_eq!(Constant::parse("0", ValueType::Integer).unwrap(), Constant::Integer(0));
    /// assert!(Constant::parse("REDACTED", ValueType::Integer).is_err());
    /// assert_eq!(
    ///     Constant::parse("9.5", ValueType::Decimal { precision: 4, scale: 2 }).unwrap(),
    ///     Constant::Decimal { unscaled: 950, scale: 2 },
    /// );
    /// ```
    ///
    /// # Errors
    /// [`Error::ConstantType`] when the literal does not fit the type.
    pub fn parse(literal: &str, ty: ValueType) -> Result<Self> {
        let misfit = || Error::ConstantType { constant: literal.to_owned(), column_type: ty.to_string() };
        let trimmed = literal.trim();
        match ty {
            ValueType::Text => Ok(Constant::Text(literal.to_owned())),
            ValueType::Integer => trimmed.parse().map(Constant::Integer).map_err(|_| misfit()),
            ValueType::Float => match trimmed.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Constant::Float(x)),
                _ => Err(misfit()),
            },
            ValueType::Decimal { precision, scale } => parse_decimal(trimmed, precision, scale)
                .map(|unscaled| Constant::Decimal { unscaled, scale })
                .ok_or_else(misfit),
            ValueType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" => Ok(Constant::Boolean(true)),
                "false" => Ok(Constant::Boolean(false)),
                _ => Err(misfit()),
            },
            ValueType::Date => crate::mask::dates::parse_date(trimmed).map(Constant::Date).map_err(|_| misfit()),
            ValueType::Timestamp => {
                crate::mask::dates::parse_timestamp_micros(trimmed).map(Constant::Timestamp).map_err(|_| misfit())
            }
        }
    }
}

/// `12.5` at scale 2 is `1250`; `None` when the digits do not fit `precision`/`scale`.
fn parse_decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let fraction_trimmed = fraction.trim_end_matches('0');
    if fraction_trimmed.len() > usize::from(scale) || whole.len() + usize::from(scale) > usize::from(precision) {
        return None;
    }
    let mut unscaled: i128 = 0;
    let padded = fraction_trimmed.bytes().chain(core::iter::repeat(b'0')).take(usize::from(scale));
    for b in whole.bytes().chain(padded) {
        unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    Some(if negative { -unscaled } else { unscaled })
}

/// The null mask: every value becomes NULL.
///
/// ```
/// assert_eq!(veil_core::mask::null_mask(&[Some("a"), None]), vec![None::<&str>, None]);
/// ```
pub fn null_mask<T: Clone>(values: &[Option<T>]) -> Vec<Option<T>> {
    vec![None; values.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_fit_their_type() {
        assert_eq!(Constant::parse("REDACTED", ValueType::Text).unwrap(), Constant::Text("REDACTED".into()));
        assert!(Constant::parse("1.5", ValueType::Integer).is_err());
        assert!(Constant::parse("NaN", ValueType::Float).is_err());
        assert_eq!(Constant::parse("TRUE", ValueType::Boolean).unwrap(), Constant::Boolean(true));
        assert!(Constant::parse("yes", ValueType::Boolean).is_err());
        assert_eq!(Constant::parse("1970-01-02", ValueType::Date).unwrap(), Constant::Date(1));
        assert!(Constant::parse("1970-13-02", ValueType::Date).is_err());
        assert_eq!(
            Constant::parse("1970-01-01 00:00:01", ValueType::Timestamp).unwrap(),
            Constant::Timestamp(1_000_000)
        );
        let d = ValueType::Decimal { precision: 5, scale: 2 };
        assert_eq!(Constant::parse("-123.4", d).unwrap(), Constant::Decimal { unscaled: -12340, scale: 2 });
        assert!(Constant::parse("1234.5", d).is_err(), "too many whole digits");
        assert!(Constant::parse("1.234", d).is_err(), "too many fraction digits");
        assert!(Constant::parse(".", d).is_err());
        let err = Constant::parse("abc", ValueType::Integer).unwrap_err().to_string();
        assert!(err.contains("`abc`") && err.contains("integer"), "{err}");
    }
}
