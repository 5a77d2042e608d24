//! The characters format-preserving masks encrypt: Unicode decimal digits and the
//! letters of three alphabets, each letter keeping its case.
//!
//! Everything else that could carry information (letters of other alphabets,
//! combining marks, numerals that are not decimal digits) is [`Kind::Outside`]:
//! the mask refuses such a value rather than pass those characters through.

/// The first code point (digit zero) of every run of Unicode decimal digits
/// (general category `Nd`), ascending. Unicode assigns `Nd` only in contiguous,
/// ascending runs of ten, so a digit's value is its offset from the run's zero.
/// Generated from the general-category table of Unicode 16 (77 runs: ASCII,
/// Arabic-Indic, Devanagari, full-width, mathematical, …).
const DIGIT_ZEROS: [u32; 77] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50, 0xED0,
    0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620,
    0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x10D40, 0x11066, 0x110F0, 0x11136,
    0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x116D0, 0x116DA, 0x11730, 0x118E0, 0x11950, 0x11BF0,
    0x11C50, 0x11D50, 0x11DA0, 0x11DE0, 0x11F50, 0x16130, 0x16A60, 0x16AC0, 0x16B50, 0x16D70, 0x1CCF0, 0x1D7CE,
    0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E5F1, 0x1E950, 0x1FBF0,
];

/// Greek letters with an upper- and a lower-case form, as (upper, lower): the 24
/// letters, the 7 vowels with tonos and the 2 with dialytika (monotonic Greek).
const GREEK_PAIRS: [(char, char); 33] = [
    ('Α', 'α'),
    ('Β', 'β'),
    ('Γ', 'γ'),
    ('Δ', 'δ'),
    ('Ε', 'ε'),
    ('Ζ', 'ζ'),
    ('Η', 'η'),
    ('Θ', 'θ'),
    ('Ι', 'ι'),
    ('Κ', 'κ'),
    ('Λ', 'λ'),
    ('Μ', 'μ'),
    ('Ν', 'ν'),
    ('Ξ', 'ξ'),
    ('Ο', 'ο'),
    ('Π', 'π'),
    ('Ρ', 'ρ'),
    ('Σ', 'σ'),
    ('Τ', 'τ'),
    ('Υ', 'υ'),
    ('Φ', 'φ'),
    ('Χ', 'χ'),
    ('Ψ', 'ψ'),
    ('Ω', 'ω'),
    ('Ά', 'ά'),
    ('Έ', 'έ'),
    ('Ή', 'ή'),
    ('Ί', 'ί'),
    ('Ό', 'ό'),
    ('Ύ', 'ύ'),
    ('Ώ', 'ώ'),
    ('Ϊ', 'ϊ'),
    ('Ϋ', 'ϋ'),
];

/// Greek letters with a lower-case form only: final sigma, and iota and upsilon
/// with dialytika and tonos. Their numerals follow [`GREEK_PAIRS`].
const GREEK_LOWER_ONLY: [char; 3] = ['ς', 'ΐ', 'ΰ'];

/// Blocks of combining diacritical marks: a mark after an encrypted letter
/// would show an accent of the plaintext, so such a value is refused.
const COMBINING_MARKS: [(u32, u32); 5] =
    [(0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F)];

/// An alphabet whose letters are encrypted together, each position keeping its case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Script {
    /// ASCII `A`–`Z`, `a`–`z`: radix 26.
    Latin,
    /// Cyrillic U+0400–U+045F and `Ґ` `ґ` (Russian, Ukrainian, Belarusian,
    /// Bulgarian, Serbian, Macedonian): radix 49.
    Cyrillic,
    /// Greek (monotonic): radix 33 when every letter is a capital, otherwise 36.
    Greek,
}

impl Script {
    /// Letters with both cases; numerals below this may stand in any position.
    pub(crate) fn cased(self) -> u16 {
        match self {
            Script::Latin => 26,
            Script::Cyrillic => 49,
            Script::Greek => 33,
        }
    }

    /// Every letter, including those with a lower-case form only.
    pub(crate) fn all(self) -> u16 {
        match self {
            Script::Greek => 36,
            s => s.cased(),
        }
    }

    /// The letter with numeral `index` in the given case, if it exists.
    pub(crate) fn letter(self, index: u16, upper: bool) -> Option<char> {
        let i = u32::from(index);
        match self {
            Script::Latin if index < 26 => char::from_u32(if upper { 0x41 } else { 0x61 } + i),
            Script::Cyrillic if index < 32 => char::from_u32(if upper { 0x410 } else { 0x430 } + i),
            Script::Cyrillic if index < 48 => char::from_u32(if upper { 0x400 } else { 0x450 } + i - 32),
            Script::Cyrillic if index == 48 => Some(if upper { 'Ґ' } else { 'ґ' }),
            Script::Greek => match GREEK_PAIRS.get(usize::from(index)) {
                Some(&(u, l)) => Some(if upper { u } else { l }),
                None if upper => None,
                None => {
                    usize::from(index).checked_sub(GREEK_PAIRS.len()).and_then(|i| GREEK_LOWER_ONLY.get(i)).copied()
                }
            },
            _ => None,
        }
    }
}

/// What a format-preserving mask does with one character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Kept in place: punctuation, spaces, symbols.
    Other,
    /// A decimal digit: `value` is encrypted, written back from `zero` (its script).
    Digit {
        /// The code point of this script's digit zero.
        zero: u32,
        /// 0–9.
        value: u16,
    },
    /// A letter of a supported alphabet.
    Letter {
        /// Which alphabet.
        script: Script,
        /// Its numeral.
        index: u16,
        /// Upper case.
        upper: bool,
    },
    /// A letter, mark or numeral of no supported alphabet: the value is refused.
    Outside,
}

/// Classify one character.
pub(crate) fn classify(c: char) -> Kind {
    let cp = u32::from(c);
    match c {
        '0'..='9' => return Kind::Digit { zero: 0x30, value: (cp - 0x30) as u16 },
        'A'..='Z' => return Kind::Letter { script: Script::Latin, index: (cp - 0x41) as u16, upper: true },
        'a'..='z' => return Kind::Letter { script: Script::Latin, index: (cp - 0x61) as u16, upper: false },
        _ if c.is_ascii() => return Kind::Other,
        '\u{400}'..='\u{40F}' => return cyrillic(cp - 0x400 + 32, true),
        '\u{410}'..='\u{42F}' => return cyrillic(cp - 0x410, true),
        '\u{430}'..='\u{44F}' => return cyrillic(cp - 0x430, false),
        '\u{450}'..='\u{45F}' => return cyrillic(cp - 0x450 + 32, false),
        'Ґ' => return cyrillic(48, true),
        'ґ' => return cyrillic(48, false),
        '\u{386}'..='\u{3CE}' => {
            if let Some(kind) = greek(c) {
                return kind;
            }
        }
        _ => {}
    }
    let run = DIGIT_ZEROS.partition_point(|&zero| zero <= cp);
    if let Some(&zero) = run.checked_sub(1).and_then(|i| DIGIT_ZEROS.get(i)) {
        if cp - zero < 10 {
            return Kind::Digit { zero, value: (cp - zero) as u16 };
        }
    }
    if c.is_alphanumeric() || COMBINING_MARKS.iter().any(|&(first, last)| (first..=last).contains(&cp)) {
        Kind::Outside
    } else {
        Kind::Other
    }
}

fn cyrillic(index: u32, upper: bool) -> Kind {
    Kind::Letter { script: Script::Cyrillic, index: index as u16, upper }
}

fn greek(c: char) -> Option<Kind> {
    let letter = |index: usize, upper: bool| Kind::Letter { script: Script::Greek, index: index as u16, upper };
    if let Some(i) = GREEK_PAIRS.iter().position(|&(u, _)| u == c) {
        return Some(letter(i, true));
    }
    if let Some(i) = GREEK_PAIRS.iter().position(|&(_, l)| l == c) {
        return Some(letter(i, false));
    }
    GREEK_LOWER_ONLY.iter().position(|&l| l == c).map(|i| letter(GREEK_PAIRS.len() + i, false))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn every_digit_run_is_ten_numeric_characters_in_order() {
        assert!(DIGIT_ZEROS.windows(2).all(|w| w[0] + 10 <= w[1]), "ascending, disjoint runs");
        for zero in DIGIT_ZEROS {
            for value in 0..10u16 {
                let c = char::from_u32(zero + u32::from(value)).unwrap();
                assert!(c.is_numeric(), "U+{:04X} is not numeric", u32::from(c));
                assert_eq!(classify(c), Kind::Digit { zero, value });
            }
        }
        // Neighbours of the runs are not digits of them.
        assert_eq!(classify('\u{65F}'), Kind::Outside, "an Arabic mark before the Arabic-Indic digits");
        assert_eq!(classify('\u{66A}'), Kind::Other, "the Arabic percent sign after them");
    }

    #[test]
    fn letters_map_to_numerals_and_back() {
        for script in [Script::Latin, Script::Cyrillic, Script::Greek] {
            for index in 0..script.all() {
                for upper in [false, true] {
                    let Some(c) = script.letter(index, upper) else {
                        assert!(upper && index >= script.cased(), "{script:?} {index} has no form");
                        continue;
                    };
                    assert_eq!(classify(c), Kind::Letter { script, index, upper }, "{c}");
                    assert_eq!(c.is_uppercase(), upper, "{c}");
                }
            }
            assert_eq!(script.letter(script.all(), false), None);
        }
    }

    #[test]
    fn other_alphabets_marks_and_numerals_are_outside() {
        for c in ['é', 'Ø', 'ß', '山', 'ア', 'ا', 'א', '\u{301}', '\u{308}', '²', '½', 'Ⅻ', '①', 'Ғ', 'Ә']
        {
            assert_eq!(classify(c), Kind::Outside, "{c}");
        }
        for c in [' ', '-', '－', '·', '€', '😀', '\u{A0}', '、'] {
            assert_eq!(classify(c), Kind::Other, "{c}");
        }
    }
}
