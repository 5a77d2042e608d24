//! Row predicates: hierarchical tag matching, attribute sets, time windows and
//! reproducible sampling.

use crate::key::{Key, Purpose, Scope};
use crate::mac::PreparedMac;

/// Separator between the levels of a hierarchical tag.
pub const TAG_SEPARATOR: char = '.';

/// Does the user value `user_value` reach the data tag `data_tag`?
///
/// True when the two are equal or `data_tag` lies below `user_value` in the
/// hierarchy (`data_tag` starts with `user_value` followed by `.`). Never the
/// other way round, and an empty user value matches nothing (fail closed).
///
/// ```
/// use veil_core::rows::tag_matches;
/// assert!(tag_matches("Sports.Football", "Sports.Football.Quarterback"));
/// assert!(!tag_matches("Gym.Gymnastics.Trapeze", "Gym.Gymnastics"));
/// assert!(!tag_matches("Sports.Foot", "Sports.Football"));
/// ```
pub fn tag_matches(user_value: &str, data_tag: &str) -> bool {
    if user_value.is_empty() {
        return false;
    }
    match data_tag.strip_prefix(user_value) {
        Some("") => true,
        Some(rest) => rest.starts_with(TAG_SEPARATOR),
        None => false,
    }
}

/// Every user value that reaches `data_tag` under [`tag_matches`]: the prefixes
/// of `data_tag` that end just before a separator, and `data_tag` itself; none
/// empty. `tag_matches(u, t)` holds exactly when `u` is in `tag_reached_by(t)`,
/// so an engine can test a reader's values against a literal tag by set
/// membership.
///
/// ```
/// use veil_core::rows::tag_reached_by;
/// assert_eq!(tag_reached_by("Sports.Football.QB"), ["Sports", "Sports.Football", "Sports.Football.QB"]);
/// assert!(tag_reached_by("").is_empty());
/// ```
pub fn tag_reached_by(data_tag: &str) -> Vec<&str> {
    let mut out: Vec<&str> = data_tag
        .char_indices()
        .filter(|&(i, c)| c == TAG_SEPARATOR && i > 0)
        .filter_map(|(i, _)| data_tag.get(..i))
        .collect();
    if !data_tag.is_empty() {
        out.push(data_tag);
    }
    out
}

/// Does any of the user's values reach any of the data tags?
///
/// ```
/// use veil_core::rows::any_tag_matches;
/// assert!(any_tag_matches(&["Public", "Internal"], &["Internal.HR"]));
/// assert!(!any_tag_matches(&["Internal.HR"], &["Internal"]));
/// ```
pub fn any_tag_matches<U: AsRef<str>, D: AsRef<str>>(user_values: &[U], data_tags: &[D]) -> bool {
    user_values.iter().any(|u| data_tags.iter().any(|d| tag_matches(u.as_ref(), d.as_ref())))
}

/// Is the row's `value` one of the reader's attribute `values`?
///
/// With `hierarchical`, a reader value also reaches every value below it
/// (`Ohio` reaches `Ohio.Columbus`). Comparison is exact (case-sensitive).
///
/// ```
/// use veil_core::rows::attribute_in;
/// assert!(attribute_in("Ohio", &["Ohio", "Michigan"], false));
/// assert!(attribute_in("Ohio.Columbus", &["Ohio"], true));
/// assert!(!attribute_in("Ohio.Columbus", &["Ohio"], false));
/// ```
pub fn attribute_in<V: AsRef<str>>(value: &str, values: &[V], hierarchical: bool) -> bool {
    values.iter().any(|v| {
        let v = v.as_ref();
        if hierarchical {
            tag_matches(v, value)
        } else {
            v == value
        }
    })
}

/// Is the event time `ts` inside the window that ends at `now` and reaches back
/// `window` (all in the same unit, e.g. epoch microseconds)?
///
/// The rule is `ts >= now - window`; `now` is passed in, never read from a clock,
/// so a result can be reproduced. A negative window is empty.
///
/// ```
/// use veil_core::rows::in_window;
/// let day = 86_400_000_000i64;
/// assert!(in_window(10 * day, 11 * day, 2 * day));
/// assert!(!in_window(8 * day, 11 * day, 2 * day));
/// ```
pub fn in_window(ts: i64, now: i64, window: i64) -> bool {
    if window < 0 {
        return false;
    }
    // Saturate: a window reaching before the start of time includes everything.
    ts >= now.saturating_sub(window)
}

/// A reproducible sample: the same rows for every reader and every run.
///
/// A row is in the sample when the first 8 bytes of HMAC-SHA-256 of its key
/// (under a key derived for `scope` and the purpose "sample"), read as a big-endian
/// integer, fall below `percent` of 2^64.
#[derive(Clone)]
pub struct Sampler {
    mac: PreparedMac,
    threshold: u64,
    all: bool,
}

impl Sampler {
    /// Prepare a sampler keeping `percent` (0–100) of rows.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when `percent` is not a number in 0–100.
    pub fn new(key: &Key, scope: &Scope, percent: f64) -> crate::Result<Self> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(crate::Error::InvalidArgument(format!(
                "sample percent must be between 0 and 100, got `{percent}`"
            )));
        }
        let threshold = sample_threshold(percent);
        Ok(Self { mac: PreparedMac::new(&key.derive(Purpose::Sample, scope)), threshold, all: percent >= 100.0 })
    }

    /// Is the row with key `row_key` in the sample?
    pub fn contains(&self, row_key: &[u8]) -> bool {
        if self.all {
            return true;
        }
        let digest = self.mac.digest(row_key);
        let mut head = [0u8; 8];
        head.copy_from_slice(digest.get(..8).unwrap_or(&[0xff; 8]));
        u64::from_be_bytes(head) < self.threshold
    }

    /// Batch form; NULL row keys are never in the sample.
    pub fn contains_batch(&self, row_keys: &[Option<&[u8]>]) -> Vec<Option<bool>> {
        row_keys.iter().map(|k| k.map(|k| self.contains(k))).collect()
    }
}

/// The bound a row's 64-bit sample value must fall below to be kept: `percent`
/// of 2^64, saturating at `u64::MAX` (engines that sample in SQL compare with it).
///
/// ```
/// assert_eq!(veil_core::rows::sample_threshold(50.0), 1 << 63);
/// assert_eq!(veil_core::rows::sample_threshold(0.0), 0);
/// ```
pub fn sample_threshold(percent: f64) -> u64 {
    // 2^64 as f64; the cast saturates at u64::MAX.
    (percent / 100.0 * 18_446_744_073_709_551_616.0) as u64
}

/// Scalar form of [`Sampler::contains`].
///
/// ```
/// use veil_core::{Key, Scope, rows::in_sample};
/// let key = Key::from_bytes([7; 32]);
/// let scope = Scope::source("shop.orders");
/// let first = in_sample(&key, &scope, b"order-42", 10.0).unwrap();
/// assert_eq!(first, in_sample(&key, &scope, b"order-42", 10.0).unwrap());
/// ```
///
/// # Errors
/// As [`Sampler::new`].
pub fn in_sample(key: &Key, scope: &Scope, row_key: &[u8], percent: f64) -> crate::Result<bool> {
    Ok(Sampler::new(key, scope, percent)?.contains(row_key))
}
