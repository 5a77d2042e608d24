//! Format-preserving masks over text, built on FF1.
//!
//! ASCII digits are encrypted together at radix 10 and ASCII letters together at
//! radix 26; every letter keeps its case and every other character (punctuation,
//! spaces, non-ASCII) keeps its place. The FF1 key is derived for the scope and the
//! tweak is the scope's encoding plus the class, so equal values in one scope mask
//! alike. Each class present must have a domain of at least 1,000,000 (6 digits,
//! 5 letters); shorter values are an error, never passed through.

use crate::key::{Key, Purpose, Scope};
use crate::mask::ff1::{Ff1, Prepared};
use crate::{Error, Result};

const DIGIT_CLASS: u8 = b'd';
const LETTER_CLASS: u8 = b'a';

/// A format-preserving mask for one scope.
///
/// ```
/// use veil_core::{Key, Scope, mask::FormatPreserving};
/// let fp = FormatPreserving::new(&Key::from_bytes([7; 32]), &Scope::source("shop.payments"));
/// let masked = fp.encrypt("4111-1111-1111-1111").unwrap();
/// assert_eq!(masked.len(), 19);
/// assert!(masked.chars().zip("4111-1111-1111-1111".chars()).all(|(m, o)| (m == '-') == (o == '-')));
/// assert_eq!(fp.decrypt(&masked).unwrap(), "4111-1111-1111-1111");
/// assert!(fp.encrypt("12-34").is_err());
/// ```
#[derive(Clone)]
pub struct FormatPreserving {
    digits: Ff1,
    letters: Ff1,
    digit_tweak: Vec<u8>,
    letter_tweak: Vec<u8>,
}

/// Reusable buffers and per-length set-up for a batch.
#[derive(Default)]
struct Scratch {
    digits: Vec<u16>,
    letters: Vec<u16>,
    digit_cache: Option<Prepared>,
    letter_cache: Option<Prepared>,
}

impl FormatPreserving {
    /// Derive the FF1 key for `scope`.
    pub fn new(key: &Key, scope: &Scope) -> Self {
        let derived = key.derive(Purpose::Ff1, scope);
        let tweak = scope.encode();
        let with_class = |class: u8| {
            let mut t = tweak.clone();
            t.push(class);
            t
        };
        Self {
            digits: Ff1::aes256(&derived, 10),
            letters: Ff1::aes256(&derived, 26),
            digit_tweak: with_class(DIGIT_CLASS),
            letter_tweak: with_class(LETTER_CLASS),
        }
    }

    /// Mask one value.
    ///
    /// # Errors
    /// [`Error::FpeDomain`] when the value has 1–5 digits or 1–4 letters.
    pub fn encrypt(&self, value: &str) -> Result<String> {
        self.crypt(value, true, &mut Scratch::default())
    }

    /// Recover a value masked in the same scope under the same key.
    ///
    /// # Errors
    /// As [`FormatPreserving::encrypt`].
    pub fn decrypt(&self, value: &str) -> Result<String> {
        self.crypt(value, false, &mut Scratch::default())
    }

    /// Batch form of [`FormatPreserving::encrypt`]: NULLs stay NULL, the first
    /// value that fails fails the batch.
    ///
    /// # Errors
    /// As [`FormatPreserving::encrypt`].
    pub fn encrypt_batch(&self, values: &[Option<&str>]) -> Result<Vec<Option<String>>> {
        let mut scratch = Scratch::default();
        values.iter().map(|v| v.map(|v| self.crypt(v, true, &mut scratch)).transpose()).collect()
    }

    /// Batch form of [`FormatPreserving::decrypt`].
    ///
    /// # Errors
    /// As [`FormatPreserving::decrypt`].
    pub fn decrypt_batch(&self, values: &[Option<&str>]) -> Result<Vec<Option<String>>> {
        let mut scratch = Scratch::default();
        values.iter().map(|v| v.map(|v| self.crypt(v, false, &mut scratch)).transpose()).collect()
    }

    fn crypt(&self, value: &str, encrypt: bool, s: &mut Scratch) -> Result<String> {
        s.digits.clear();
        s.letters.clear();
        for byte in value.bytes() {
            match byte {
                b'0'..=b'9' => s.digits.push(u16::from(byte - b'0')),
                b'a'..=b'z' => s.letters.push(u16::from(byte - b'a')),
                b'A'..=b'Z' => s.letters.push(u16::from(byte - b'A')),
                _ => {}
            }
        }
        check_domain(s.digits.len(), 6, "digits")?;
        check_domain(s.letters.len(), 5, "letters")?;
        let run = |ff1: &Ff1, tweak: &[u8], x: &mut [u16], cache: &mut Option<Prepared>| {
            if x.is_empty() {
                Ok(())
            } else if encrypt {
                ff1.encrypt_cached(tweak, x, cache)
            } else {
                ff1.decrypt_cached(tweak, x, cache)
            }
        };
        run(&self.digits, &self.digit_tweak, &mut s.digits, &mut s.digit_cache)?;
        run(&self.letters, &self.letter_tweak, &mut s.letters, &mut s.letter_cache)?;

        // Only ASCII bytes change, so the result stays valid UTF-8.
        let mut out = value.as_bytes().to_vec();
        let mut digits = s.digits.iter();
        let mut letters = s.letters.iter();
        for byte in out.iter_mut() {
            let numeral = |it: &mut core::slice::Iter<'_, u16>| it.next().map(|&n| u8::try_from(n).unwrap_or(0));
            match *byte {
                b'0'..=b'9' => *byte = b'0' + numeral(&mut digits).unwrap_or(0),
                b'a'..=b'z' => *byte = b'a' + numeral(&mut letters).unwrap_or(0),
                b'A'..=b'Z' => *byte = b'A' + numeral(&mut letters).unwrap_or(0),
                _ => {}
            }
        }
        String::from_utf8(out).map_err(|_| Error::InvalidArgument("format-preserving mask broke UTF-8".into()))
    }
}

fn check_domain(length: usize, minimum: usize, class: &'static str) -> Result<()> {
    if length > 0 && length < minimum {
        return Err(Error::FpeDomain { class, length, minimum });
    }
    Ok(())
}

/// Scalar format-preserving mask.
///
/// # Errors
/// As [`FormatPreserving::encrypt`].
pub fn format_preserving_encrypt(key: &Key, scope: &Scope, value: &str) -> Result<String> {
    FormatPreserving::new(key, scope).encrypt(value)
}

/// Scalar inverse of [`format_preserving_encrypt`].
///
/// # Errors
/// As [`FormatPreserving::decrypt`].
pub fn format_preserving_decrypt(key: &Key, scope: &Scope, value: &str) -> Result<String> {
    FormatPreserving::new(key, scope).decrypt(value)
}
