//! Numeric rounding: to a bucket width or to a number of decimal places.
//!
//! Ties round half away from zero, as SQL's `round()` does. Every function is
//! idempotent: rounding a rounded value changes nothing.

use crate::{Error, Result};

/// Round an integer to the nearest multiple of `width` (> 0).
///
/// Results that would overflow `i64` step one width toward zero instead.
///
/// ```
/// use veil_core::mask::round_int;
/// assert_eq!(round_int(1234, 10).unwrap(), 1230);
/// assert_eq!(round_int(1235, 10).unwrap(), 1240);
/// assert_eq!(round_int(-1235, 10).unwrap(), -1240);
/// assert!(round_int(5, 0).is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] when `width` is not positive.
pub fn round_int(value: i64, width: i64) -> Result<i64> {
    if width <= 0 {
        return Err(Error::InvalidArgument(format!("rounding width must be positive, got `{width}`")));
    }
    let rounded = round_i128(i128::from(value), i128::from(width));
    Ok(i64::try_from(rounded).unwrap_or_else(|_| {
        let toward_zero = if rounded > 0 { rounded - i128::from(width) } else { rounded + i128::from(width) };
        i64::try_from(toward_zero).unwrap_or(0)
    }))
}

/// Round a scaled decimal (`unscaled` = value × 10^scale) to a multiple of
/// `width_unscaled` in the same scale; `round_decimal(1234, 50)` at scale 2 rounds
/// 12.34 to the nearest 0.50.
///
/// # Errors
/// [`Error::InvalidArgument`] when the width is not positive.
pub fn round_decimal(unscaled: i128, width_unscaled: i128) -> Result<i128> {
    if width_unscaled <= 0 {
        return Err(Error::InvalidArgument(format!(
            "rounding width must be positive, got `{width_unscaled}` (unscaled)"
        )));
    }
    Ok(round_i128(unscaled, width_unscaled))
}

#[inline]
fn round_i128(value: i128, width: i128) -> i128 {
    let quotient = value / width;
    let remainder = value % width;
    // Half away from zero: compare twice the remainder with the width.
    let step = if remainder.unsigned_abs() * 2 >= width.unsigned_abs() { remainder.signum() } else { 0 };
    (quotient + step).saturating_mul(width)
}

/// A prepared float rounding to a bucket width, e.g. 10, 0.5 or 0.01.
#[derive(Clone, Copy, Debug)]
pub struct FloatBucket {
    width: f64,
    /// Decimal places of `width` when it is a whole number of 10^-places, so
    /// results print as `12.34`, not `12.340000000000002`.
    clean: Option<f64>,
}

impl FloatBucket {
    /// Prepare rounding to multiples of `width` (finite, > 0).
    ///
    /// ```
    /// use veil_core::mask::FloatBucket;
    /// let cents = FloatBucket::new(0.01).unwrap();
    /// assert_eq!(cents.apply(12.3456), 12.35);
    /// assert_eq!(FloatBucket::new(10.0).unwrap().apply(-15.0), -20.0);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the width is not a positive finite number.
    pub fn new(width: f64) -> Result<Self> {
        if !(width.is_finite() && width > 0.0) {
            return Err(Error::InvalidArgument(format!("rounding width must be a positive number, got `{width}`")));
        }
        let clean = (0..=15).map(|p| 10f64.powi(p)).find(|scale| {
            let scaled = width * scale;
            (scaled - scaled.round()).abs() < 1e-9 * scaled.max(1.0)
        });
        Ok(Self { width, clean })
    }

    /// Round one value; NaN and infinities are returned unchanged.
    #[inline]
    pub fn apply(&self, value: f64) -> f64 {
        settle(value, |v| self.once(v))
    }

    #[inline]
    fn once(&self, value: f64) -> f64 {
        if !value.is_finite() {
            return value;
        }
        let rounded = (value / self.width).round() * self.width;
        match self.clean {
            Some(scale) if (rounded * scale).abs() < 9.0e15 => (rounded * scale).round() / scale,
            _ => rounded,
        }
    }

    /// Batch form: NULLs stay NULL.
    pub fn apply_batch(&self, values: &[Option<f64>]) -> Vec<Option<f64>> {
        values.iter().map(|v| v.map(|v| self.apply(v))).collect()
    }
}

/// Round a float to `places` decimal places (negative: to tens, hundreds, …),
/// like SQL's `round(x, places)`.
///
/// ```
/// use veil_core::mask::round_places;
/// assert_eq!(round_places(3.14159, 2), 3.14);
/// assert_eq!(round_places(1250.0, -2), 1300.0);
/// ```
pub fn round_places(value: f64, places: i32) -> f64 {
    settle(value, |v| round_places_once(v, places))
}

/// Apply `f` until the result no longer moves (at most a few steps), so the
/// rounding is idempotent even where the scaled value has no exact fraction
/// (`n / 10^p` times `10^p` can land on a tie and round one step further).
#[inline]
fn settle(value: f64, f: impl Fn(f64) -> f64) -> f64 {
    let mut current = f(value);
    for _ in 0..4 {
        let next = f(current);
        if next == current || (next.is_nan() && current.is_nan()) {
            return current;
        }
        current = next;
    }
    current
}

fn round_places_once(value: f64, places: i32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let places = places.clamp(-308, 308);
    if places >= 0 {
        let scale = 10f64.powi(places);
        let scaled = value * scale;
        if !scaled.is_finite() || scaled.abs() >= 9.0e15 {
            return value;
        }
        scaled.round() / scale
    } else {
        let scale = 10f64.powi(-places);
        (value / scale).round() * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_rounding_saturates_at_the_edges() {
        let near_max = round_int(i64::MAX, 10).unwrap();
        assert_eq!(near_max % 10, 0);
        assert!(near_max > i64::MAX - 20);
        let near_min = round_int(i64::MIN, 10).unwrap();
        assert_eq!(near_min % 10, 0);
        assert_eq!(round_int(7, 1).unwrap(), 7);
        assert_eq!(round_decimal(1234, 50).unwrap(), 1250);
        assert_eq!(round_decimal(-1224, 50).unwrap(), -1200);
    }

    #[test]
    fn float_rounding_prints_clean() {
        let b = FloatBucket::new(0.1).unwrap();
        assert_eq!(b.apply(0.3 + 0.04), 0.3);
        assert_eq!(b.apply(2.25).to_string(), "2.3");
        assert!(FloatBucket::new(0.0).is_err());
        assert!(FloatBucket::new(f64::NAN).is_err());
        assert!(b.apply(f64::NAN).is_nan());
        assert_eq!(round_places(-2.5, 0), -3.0);
    }

    #[test]
    fn rounding_settles_where_the_scaled_value_has_no_exact_fraction() {
        // Found by proptest: 386609936376.4921 * 10^4 lands on a tie.
        let once = round_places(386_609_936_376.492_07, 4);
        assert_eq!(round_places(once, 4), once);
        let b = FloatBucket::new(0.0001).unwrap();
        let once = b.apply(386_609_936_376.492_07);
        assert_eq!(b.apply(once), once);
    }
}
