//! Partial reveal: keep some characters, fill the rest.

/// Which end of the value stays visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Keep the first N characters.
    First(usize),
    /// Keep the last N characters.
    Last(usize),
}

/// Keep the first or last N characters (Unicode scalar values, not bytes) and
/// replace every other character with `fill`.
///
/// ```
/// use veil_core::mask::{reveal, Keep};
/// assert_eq!(reveal("4111111111111111", Keep::Last(4), 'X'), "XXXXXXXXXXXX1111");
/// assert_eq!(reveal("Zoë Ünal", Keep::First(3), '*'), "Zoë*****");
/// assert_eq!(reveal("ab", Keep::Last(4), 'X'), "ab");
/// ```
pub fn reveal(value: &str, keep: Keep, fill: char) -> String {
    let count = value.chars().count();
    let mut out = String::with_capacity(value.len());
    match keep {
        Keep::First(n) => {
            for (i, c) in value.chars().enumerate() {
                out.push(if i < n { c } else { fill });
            }
        }
        Keep::Last(n) => {
            let hidden = count.saturating_sub(n);
            for (i, c) in value.chars().enumerate() {
                out.push(if i >= hidden { c } else { fill });
            }
        }
    }
    out
}

/// Batch form of [`reveal`]: NULLs stay NULL.
pub fn reveal_batch(values: &[Option<&str>], keep: Keep, fill: char) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(|v| reveal(v, keep, fill))).collect()
}

/// What replaces the local part of an e-mail address (fixed, so its length leaks nothing).
pub const EMAIL_LOCAL_FILL: &str = "XXXXX";

/// Hide the local part of an e-mail address, keeping the domain.
///
/// A value without `@` (or with an empty domain) is hidden whole: fail closed.
///
/// ```
/// use veil_core::mask::email_mask;
/// assert_eq!(email_mask("jane.doe@example.com"), "XXXXX@example.com");
/// assert_eq!(email_mask("not an address"), "XXXXX");
/// ```
pub fn email_mask(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => {
            let mut out = String::with_capacity(EMAIL_LOCAL_FILL.len() + 1 + domain.len());
            out.push_str(EMAIL_LOCAL_FILL);
            out.push('@');
            out.push_str(domain);
            out
        }
        _ => EMAIL_LOCAL_FILL.to_owned(),
    }
}

/// Batch form of [`email_mask`]: NULLs stay NULL.
pub fn email_mask_batch(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(email_mask)).collect()
}
