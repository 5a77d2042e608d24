//! Invariants, checked with proptest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use fpe::ff1::{FlexibleNumeralString, FF1};
use proptest::prelude::*;
use veil_core::mask::{self, DateUnit, Ff1, FloatBucket, FormatPreserving, KeyedHasher, Tokenizer};
use veil_core::{rows, Key, Scope};

fn key() -> Key {
    Key::from_bytes([42; 32])
}

fn class(c: char) -> u8 {
    if c.is_ascii_digit() {
        0
    } else if c.is_ascii_lowercase() {
        1
    } else if c.is_ascii_uppercase() {
        2
    } else {
        3
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// veil's FF1 agrees with the `fpe` crate on every key size, radix and length,
    /// including lengths that take the big-integer path.
    #[test]
    fn ff1_matches_the_fpe_crate(
        key in prop::collection::vec(any::<u8>(), 32),
        tweak in prop::collection::vec(any::<u8>(), 0..40),
        radix in prop::sample::select(vec![2u32, 10, 26, 36, 62, 256]),
        seed in prop::collection::vec(any::<u16>(), 20..80),
    ) {
        let ours = Ff1::new(&key, radix).unwrap();
        let len = seed.len().max(ours.min_len());
        let x: Vec<u16> = seed.iter().cycle().take(len).map(|v| v % radix as u16).collect();
        let peer = FF1::<aes::Aes256>::new(&key, radix).unwrap();
        let expected: Vec<u16> = peer.encrypt(&tweak, &FlexibleNumeralString::from(x.clone())).unwrap().into();
        let got = ours.encrypt(&tweak, &x).unwrap();
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(ours.decrypt(&tweak, &got).unwrap(), x);
    }

    /// Format-preserving masking round-trips and keeps length and character classes.
    #[test]
    fn fpe_round_trips_and_keeps_format(value in "[0-9]{6,20}([ -][A-Za-z]{5,12})?[.é ]{0,3}") {
        let fp = FormatPreserving::new(&key(), &Scope::source("s"));
        let masked = fp.encrypt(&value).unwrap();
        prop_assert_eq!(masked.chars().count(), value.chars().count());
        for (m, o) in masked.chars().zip(value.chars()) {
            prop_assert_eq!(class(m), class(o));
            if class(o) == 3 {
                prop_assert_eq!(m, o);
            }
        }
        prop_assert_eq!(fp.decrypt(&masked).unwrap(), value);
    }

    /// Tokens round-trip for any bytes.
    #[test]
    fn tokens_round_trip(value in prop::collection::vec(any::<u8>(), 0..300)) {
        let t = Tokenizer::new(&key(), &Scope::project("p"));
        let token = t.mask(&value);
        prop_assert!(token.is_ascii());
        prop_assert_eq!(t.unmask(&token).unwrap(), value);
    }

    /// Hashes are deterministic within a scope and differ across scopes.
    #[test]
    fn hash_is_consistent_within_and_separated_across_scopes(value in ".*", a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        let ha = KeyedHasher::new(&key(), &Scope::source(a.clone()));
        prop_assert_eq!(ha.hash_hex(value.as_bytes()), ha.hash_hex(value.as_bytes()));
        if a != b {
            let hb = KeyedHasher::new(&key(), &Scope::source(b));
            prop_assert_ne!(ha.hash_hex(value.as_bytes()), hb.hash_hex(value.as_bytes()));
        }
    }

    /// A user value never reaches a tag above it in the hierarchy.
    #[test]
    fn child_user_value_never_matches_parent_tag(parent in "[A-Za-z]{1,6}(\\.[A-Za-z]{1,6}){0,3}", child in "[A-Za-z]{1,6}") {
        let user = format!("{parent}.{child}");
        prop_assert!(!rows::tag_matches(&user, &parent));
        prop_assert!(rows::tag_matches(&parent, &user));
        prop_assert!(rows::tag_matches(&user, &user));
    }

    /// Rounding twice is rounding once.
    #[test]
    fn rounding_is_idempotent(
        i in any::<i64>(), w in 1i64..1_000_000, x in -1e12f64..1e12,
        fw in prop::sample::select(vec![0.01f64, 0.1, 0.5, 1.0, 10.0, 250.0]),
        places in -5i32..6, days in -100_000i32..100_000, micros in any::<i64>(),
        unit in prop::sample::select(vec![DateUnit::Minute, DateUnit::Hour, DateUnit::Day, DateUnit::Month, DateUnit::Quarter, DateUnit::Year]),
    ) {
        let once = mask::round_int(i, w).unwrap();
        prop_assert_eq!(mask::round_int(once, w).unwrap(), once);
        let b = FloatBucket::new(fw).unwrap();
        prop_assert_eq!(b.apply(b.apply(x)), b.apply(x));
        let p = mask::round_places(x, places);
        prop_assert_eq!(mask::round_places(p, places), p);
        let d = mask::trunc_date_days(days, unit);
        prop_assert_eq!(mask::trunc_date_days(d, unit), d);
        prop_assert!(d <= days);
        let micros = micros / 4; // stay clear of i64's edges, where dates have no calendar
        let t = mask::trunc_timestamp_micros(micros, unit);
        prop_assert_eq!(mask::trunc_timestamp_micros(t, unit), t);
        prop_assert!(t <= micros);
    }

    /// Reveal counts characters, not bytes, and never changes the length.
    #[test]
    fn reveal_keeps_char_count(value in "\\PC{0,40}", n in 0usize..50) {
        let out = mask::reveal(&value, mask::Keep::Last(n), 'X');
        prop_assert_eq!(out.chars().count(), value.chars().count());
        let kept: String = value.chars().rev().take(n).collect::<Vec<_>>().into_iter().rev().collect();
        prop_assert!(out.ends_with(&kept));
    }
}

#[test]
fn sample_is_within_one_percent_on_a_million_rows() {
    for percent in [1.0, 10.0, 33.3, 50.0] {
        let sampler = rows::Sampler::new(&key(), &Scope::source("orders"), percent).unwrap();
        let kept = (0..1_000_000u32).filter(|i| sampler.contains(&i.to_le_bytes())).count();
        let share = kept as f64 / 10_000.0;
        assert!((share - percent).abs() <= 1.0, "{percent}% asked, {share}% kept");
    }
    let none = rows::Sampler::new(&key(), &Scope::source("orders"), 0.0).unwrap();
    assert!((0..10_000u32).all(|i| !none.contains(&i.to_le_bytes())));
}

#[test]
fn huge_and_odd_inputs() {
    let mib = "é".repeat(1 << 19);
    let h = KeyedHasher::new(&key(), &Scope::source("s"));
    assert_eq!(h.hash_hex(mib.as_bytes()).len(), 64);
    assert_eq!(h.hash_hex(&[0xff, 0xfe, 0x00]).len(), 64, "non-UTF-8 bytes hash too");
    assert_eq!(mask::reveal(&mib, mask::Keep::First(2), 'X').chars().count(), 1 << 19);
    let regex = mask::RegexMask::new("é", "e").unwrap();
    assert_eq!(regex.apply(&mib).len(), 1 << 19);
    let fp = FormatPreserving::new(&key(), &Scope::source("s"));
    let digits = "7".repeat(1 << 16);
    let masked = fp.encrypt(&digits).unwrap();
    assert_eq!(masked.len(), digits.len());
    assert_ne!(masked, digits);
    assert_eq!(fp.decrypt(&masked).unwrap(), digits);
}
