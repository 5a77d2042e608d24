//! Format-preserving masks over text, built on FF1.
//!
//! Every Unicode decimal digit (general category `Nd`: ASCII, Arabic-Indic,
//! Devanagari, full-width, …) is encrypted together at radix 10, each output digit
//! written in the script of the input digit at its position. Letters are encrypted
//! per alphabet, each position keeping its case: ASCII Latin at radix 26, Cyrillic
//! (U+0400–U+045F, `Ґ`) at radix 49, Greek (monotonic) at radix 33 when every letter is
//! a capital and 36 otherwise. Other characters (punctuation, spaces, symbols) keep
//! their place. A value holding a letter of another alphabet, a combining mark or a
//! numeral that is not a decimal digit is refused: passing such characters through
//! would show them as they are.
//!
//! The FF1 key is derived for the scope and the tweak is the scope's encoding plus
//! the class, so equal values in one scope mask alike. Each class present must have
//! a domain of at least 1,000,000 (6 digits, 5 Latin, 4 Cyrillic or 4 Greek
//! letters); shorter values are an error, never passed through. A value without
//! digits or letters has nothing to hide and is returned as it is.
//!
//! FF1 is a permutation: like any, it maps some values to themselves (one in
//! radix^length on average), so a masked value can, rarely, equal its input.

use crate::key::{Key, Purpose, Scope};
use crate::mask::alphabet::{classify, Kind, Script};
use crate::mask::ff1::{Ff1, Prepared};
use crate::{Error, Result};

const DIGIT_CLASS: u8 = b'd';
const LETTER_CLASS: u8 = b'a';
const CYRILLIC_CLASS: u8 = b'c';
const GREEK_CLASS: u8 = b'g';

/// The most FF1 passes a mixed-case Greek value may take (cycle walking, below).
/// A typical name needs one or two; the expected count is (36/33)^capitals.
const MAX_WALK: usize = 2_000;

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
///
/// // Arabic-Indic digits stay Arabic-Indic digits; Cyrillic letters stay Cyrillic.
/// let phone = fp.encrypt("٠٥٥١٢٣٤٥٦٧").unwrap();
/// assert!(phone != "٠٥٥١٢٣٤٥٦٧" && phone.chars().all(|c| ('٠'..='٩').contains(&c)));
/// let name = fp.encrypt("Иван Петров").unwrap();
/// let cyrillic = |c: char| ('\u{400}'..='\u{45F}').contains(&c) || c == 'Ґ' || c == 'ґ';
/// assert!(name != "Иван Петров" && name.chars().filter(|&c| c != ' ').all(cyrillic));
/// assert!(name.starts_with(char::is_uppercase) && name.chars().nth(1).is_some_and(char::is_lowercase));
/// // A letter of another alphabet is refused, never passed through.
/// assert_eq!(fp.encrypt("山田太郎").unwrap_err().kind(), "fpe_domain");
/// ```
#[derive(Clone)]
pub struct FormatPreserving {
    digits: Class,
    latin: Class,
    cyrillic: Class,
    /// Greek when every letter is a capital: the cased letters only.
    greek_capitals: Class,
    /// Greek otherwise: every letter, capitals walked back into their alphabet.
    greek: Class,
}

/// FF1 at one radix with one class's tweak.
#[derive(Clone)]
struct Class {
    ff1: Ff1,
    tweak: Vec<u8>,
}

/// One class's numerals for a value, and reusable set-up for a batch.
#[derive(Default)]
struct Numerals {
    x: Vec<u16>,
    /// Per Greek letter: upper case (capitals are walked back into the cased letters).
    upper: Vec<bool>,
    cache: Option<Prepared>,
}

impl Numerals {
    fn clear(&mut self) {
        self.x.clear();
        self.upper.clear();
    }
}

/// Reusable buffers and per-length set-up for a batch.
#[derive(Default)]
struct Scratch {
    digits: Numerals,
    latin: Numerals,
    cyrillic: Numerals,
    greek: Numerals,
    greek_capitals_cache: Option<Prepared>,
}

impl Scratch {
    fn letters(&mut self, script: Script) -> &mut Numerals {
        match script {
            Script::Latin => &mut self.latin,
            Script::Cyrillic => &mut self.cyrillic,
            Script::Greek => &mut self.greek,
        }
    }
}

impl Class {
    fn run(&self, x: &mut [u16], encrypt: bool, cache: &mut Option<Prepared>) -> Result<()> {
        if x.is_empty() {
            Ok(())
        } else if encrypt {
            self.ff1.encrypt_cached(&self.tweak, x, cache)
        } else {
            self.ff1.decrypt_cached(&self.tweak, x, cache)
        }
    }

    fn check_domain(&self, length: usize, class: &'static str) -> Result<()> {
        let minimum = self.ff1.min_len();
        if length > 0 && length < minimum {
            return Err(Error::FpeDomain { class, length, minimum });
        }
        Ok(())
    }
}

impl FormatPreserving {
    /// Derive the FF1 key for `scope`.
    pub fn new(key: &Key, scope: &Scope) -> Self {
        Self::from_derived(&key.derive(Purpose::Ff1, scope), scope)
    }

    /// The masker for a key already derived for `scope` (`key.derive(Purpose::Ff1,
    /// scope)`), for engines that store derived keys and never the master key.
    ///
    /// ```
    /// use veil_core::{Key, Purpose, Scope, mask::FormatPreserving};
    /// let (key, scope) = (Key::from_bytes([7; 32]), Scope::source("shop.customers"));
    /// let derived = FormatPreserving::from_derived(&key.derive(Purpose::Ff1, &scope), &scope);
    /// assert_eq!(derived.encrypt("4111-1111").unwrap(), FormatPreserving::new(&key, &scope).encrypt("4111-1111").unwrap());
    /// ```
    pub fn from_derived(derived: &[u8; 32], scope: &Scope) -> Self {
        let tweak = scope.encode();
        let class = |radix: u16, class: u8| {
            let mut t = tweak.clone();
            t.push(class);
            Class { ff1: Ff1::aes256(derived, u32::from(radix)), tweak: t }
        };
        Self {
            digits: class(10, DIGIT_CLASS),
            latin: class(Script::Latin.all(), LETTER_CLASS),
            cyrillic: class(Script::Cyrillic.all(), CYRILLIC_CLASS),
            greek_capitals: class(Script::Greek.cased(), GREEK_CLASS),
            greek: class(Script::Greek.all(), GREEK_CLASS),
        }
    }

    /// Mask one value.
    ///
    /// # Errors
    /// [`Error::FpeDomain`] when the value has 1–5 digits, 1–4 Latin letters or
    /// 1–3 Cyrillic or Greek letters; [`Error::FpeUnsupported`] when it holds a
    /// letter of another alphabet, a combining mark or a numeral that is not a
    /// decimal digit, or mixes more Greek capitals with lower-case Greek than
    /// [`MAX_WALK`] passes can place (in practice, some 70 or more).
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
        for n in [&mut s.digits, &mut s.latin, &mut s.cyrillic, &mut s.greek] {
            n.clear();
        }
        // ASCII values (the common case) go byte by byte, as `classify` would.
        let ascii = value.is_ascii();
        if ascii {
            for byte in value.bytes() {
                match byte {
                    b'0'..=b'9' => s.digits.x.push(u16::from(byte - b'0')),
                    b'a'..=b'z' => s.latin.x.push(u16::from(byte - b'a')),
                    b'A'..=b'Z' => s.latin.x.push(u16::from(byte - b'A')),
                    _ => {}
                }
            }
        } else {
            for c in value.chars() {
                match classify(c) {
                    Kind::Other => {}
                    Kind::Digit { value, .. } => s.digits.x.push(value),
                    Kind::Letter { script, index, upper } => {
                        let n = s.letters(script);
                        n.x.push(index);
                        if script == Script::Greek {
                            n.upper.push(upper);
                        }
                    }
                    Kind::Outside => return Err(Error::FpeUnsupported { reason: OUTSIDE }),
                }
            }
        }
        let capitals_only = !s.greek.upper.contains(&false);
        let greek = if capitals_only { &self.greek_capitals } else { &self.greek };
        self.digits.check_domain(s.digits.x.len(), "digits")?;
        self.latin.check_domain(s.latin.x.len(), "letters")?;
        self.cyrillic.check_domain(s.cyrillic.x.len(), "Cyrillic letters")?;
        greek.check_domain(s.greek.x.len(), "Greek letters")?;

        self.digits.run(&mut s.digits.x, encrypt, &mut s.digits.cache)?;
        self.latin.run(&mut s.latin.x, encrypt, &mut s.latin.cache)?;
        self.cyrillic.run(&mut s.cyrillic.x, encrypt, &mut s.cyrillic.cache)?;
        if capitals_only {
            greek.run(&mut s.greek.x, encrypt, &mut s.greek_capitals_cache)?;
        } else {
            // Cycle walking: FF1 permutes every string over the 36 letters; a
            // capital position may only hold a cased letter, so apply it again
            // until every capital position does. That is a permutation of the
            // valid strings, and decryption walks the same cycle back.
            let cased = Script::Greek.cased();
            let mut passes = 0;
            loop {
                greek.run(&mut s.greek.x, encrypt, &mut s.greek.cache)?;
                if s.greek.x.iter().zip(&s.greek.upper).all(|(&x, &upper)| !upper || x < cased) {
                    break;
                }
                passes += 1;
                if passes >= MAX_WALK {
                    return Err(Error::FpeUnsupported { reason: GREEK_CAPITALS });
                }
            }
        }

        let lost = || Error::InvalidArgument("format-preserving mask lost a character".into());
        if ascii {
            // Only ASCII digits and letters change, byte for byte.
            let mut out = value.as_bytes().to_vec();
            let (mut digits, mut latin) = (s.digits.x.iter(), s.latin.x.iter());
            for byte in &mut out {
                let (base, next) = match *byte {
                    b'0'..=b'9' => (b'0', digits.next()),
                    b'a'..=b'z' => (b'a', latin.next()),
                    b'A'..=b'Z' => (b'A', latin.next()),
                    _ => continue,
                };
                *byte = next.and_then(|&n| u8::try_from(n).ok()).map(|n| base + n).ok_or_else(lost)?;
            }
            return String::from_utf8(out).map_err(|_| lost());
        }
        let mut out = String::with_capacity(value.len());
        let mut digits = s.digits.x.iter();
        let (mut latin, mut cyrillic, mut greek) = (s.latin.x.iter(), s.cyrillic.x.iter(), s.greek.x.iter());
        for c in value.chars() {
            let written = match classify(c) {
                Kind::Digit { zero, .. } => digits.next().and_then(|&n| char::from_u32(zero + u32::from(n))),
                Kind::Letter { script, upper, .. } => {
                    let next = match script {
                        Script::Latin => latin.next(),
                        Script::Cyrillic => cyrillic.next(),
                        Script::Greek => greek.next(),
                    };
                    next.and_then(|&n| script.letter(n, upper))
                }
                Kind::Other | Kind::Outside => Some(c),
            };
            out.push(written.ok_or_else(lost)?);
        }
        Ok(out)
    }
}

const OUTSIDE: &str = "it holds a letter, mark or numeral outside the alphabets the mask encrypts \
                       (decimal digits; ASCII Latin, Cyrillic and Greek letters)";
const GREEK_CAPITALS: &str = "it mixes too many Greek capitals with lower-case Greek letters";

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
