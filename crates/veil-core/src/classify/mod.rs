//! Sensitive data discovery: which *entity* a value, or a column of sampled
//! values, holds (e-mail address, phone number, national id, card number, …).
//!
//! Two kinds of evidence, kept apart so callers can show them:
//! - **values**: a pattern and, where the entity has one, a validator (Luhn for
//!   card numbers, ISO 13616 mod-97 for IBANs, the SSA's rules for US SSNs, the
//!   standard library's parsers for IP addresses);
//! - **the column's name**: a hint (`email`, `phone`, `dob`, `zip`, …).
//!
//! A column holds an entity when the share of its non-NULL sampled values that
//! match reaches the entity's threshold (lower when the name hints at it), or,
//! for entities whose values alone are ambiguous (dates of birth, person names,
//! postal codes, bare digit strings as phone numbers), when the name hints at it
//! and the values fit. Users add entities of their own ([`CustomEntity`]: a
//! value regex and/or one of veil's [`Validator`]s, column-name patterns, a
//! minimum share), checked by a [`Classifier`] beside the built-in ones.
//! Pure: no I/O; the engine samples, veil classifies.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use regex::Regex;

mod column;
mod custom;

pub use column::{classify_column, Classifier, Finding, Thresholds};
pub use custom::{CustomEntity, EntityError, EntitySpec, Validator};

/// An entity veil can find, by its tag name under `Discovered.Entity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// An e-mail address (RFC 5322's common form).
    EmailAddress,
    /// A phone number: E.164 (`+4930123456`) or a national form with separators.
    PhoneNumber,
    /// A US social security number (`123-45-6789`, valid area/group/serial).
    UsSsn,
    /// A payment card number (13–19 digits, known prefix, Luhn check).
    CardNumber,
    /// An IBAN (ISO 13616: country, check digits, mod-97 = 1).
    Iban,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A MAC address (`00:1a:2b:3c:4d:5e`).
    MacAddress,
    /// An http(s) URL.
    Url,
    /// A date of birth (name hint, a date between 1900 and today).
    DateOfBirth,
    /// A postal code (name hint, a known country shape).
    PostalCode,
    /// A person's name (name hint, one to four capitalised words).
    PersonName,
}

impl Entity {
    /// Every entity, in a fixed order.
    pub const ALL: [Entity; 11] = [
        Entity::EmailAddress,
        Entity::PhoneNumber,
        Entity::UsSsn,
        Entity::CardNumber,
        Entity::Iban,
        Entity::IpAddress,
        Entity::MacAddress,
        Entity::Url,
        Entity::DateOfBirth,
        Entity::PostalCode,
        Entity::PersonName,
    ];

    /// The tag name (`EmailAddress`), as in `Discovered.Entity.EmailAddress`.
    pub fn name(self) -> &'static str {
        match self {
            Entity::EmailAddress => "EmailAddress",
            Entity::PhoneNumber => "PhoneNumber",
            Entity::UsSsn => "UsSsn",
            Entity::CardNumber => "CardNumber",
            Entity::Iban => "Iban",
            Entity::IpAddress => "IpAddress",
            Entity::MacAddress => "MacAddress",
            Entity::Url => "Url",
            Entity::DateOfBirth => "DateOfBirth",
            Entity::PostalCode => "PostalCode",
            Entity::PersonName => "PersonName",
        }
    }

    /// The entity named `name` (as [`Entity::name`] writes it).
    pub fn parse(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Column-name fragments that hint at this entity (lower case, matched
    /// against the name's words, `_`/`-`/space/case boundaries split).
    fn name_hints(self) -> &'static [&'static str] {
        match self {
            Entity::EmailAddress => &["email", "e_mail", "mail"],
            Entity::PhoneNumber => &["phone", "mobile", "cell", "tel", "telephone", "fax", "msisdn"],
            Entity::UsSsn => &["ssn", "social_security", "sozialversicherung"],
            Entity::CardNumber => &["card", "credit_card", "cc", "pan", "cardnumber"],
            Entity::Iban => &["iban", "bank_account", "account_number"],
            Entity::IpAddress => &["ip", "ip_address", "ipaddress", "ipv4", "ipv6"],
            Entity::MacAddress => &["mac", "mac_address"],
            Entity::Url => &["url", "uri", "website", "homepage", "link"],
            Entity::DateOfBirth => &["dob", "birth", "birthday", "birthdate", "born", "date_of_birth"],
            Entity::PostalCode => &["zip", "zipcode", "postal", "postcode", "plz"],
            Entity::PersonName => {
                &["name", "first_name", "firstname", "last_name", "lastname", "surname", "given_name", "full_name"]
            }
        }
    }

    /// Whether values alone decide (else the column's name must hint at it).
    fn values_decide(self) -> bool {
        !matches!(self, Entity::DateOfBirth | Entity::PostalCode | Entity::PersonName)
    }
}

/// A set of entities (a bit per [`Entity`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entities(u16);

impl Entities {
    /// Does the set hold `e`?
    pub fn contains(self, e: Entity) -> bool {
        self.0 & e.bit() != 0
    }

    fn insert(&mut self, e: Entity) {
        self.0 |= e.bit();
    }

    /// The entities in the set, in [`Entity::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Entity> {
        Entity::ALL.into_iter().filter(move |e| self.contains(*e))
    }

    /// Is the set empty?
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The value patterns; `None` only if a constant pattern failed to compile
/// (a bug the tests catch), which then matches nothing.
struct Patterns {
    email: Option<Regex>,
    phone: Option<Regex>,
    ssn: Option<Regex>,
    mac: Option<Regex>,
    url: Option<Regex>,
    iban: Option<Regex>,
    date: Option<Regex>,
    postal: Option<Regex>,
    name: Option<Regex>,
}

fn matches(re: &Option<Regex>, value: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(value))
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |p: &str| Regex::new(p).ok();
        Patterns {
            email: re(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"),
            phone: re(r"^\+?[0-9(][0-9 ().\-/]{5,22}[0-9]$"),
            ssn: re(r"^(\d{3})-(\d{2})-(\d{4})$"),
            mac: re(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){4}$"),
            url: re(r"^https?://[A-Za-z0-9.-]+(?::\d+)?(?:[/?#][^\s]*)?$"),
            iban: re(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"),
            date: re(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$"),
            postal: re(r"^(?:\d{5}(?:-\d{4})?|\d{4}|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d|[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}|\d{4} ?[A-Za-z]{2}|\d{3}-\d{4}|\d{2}-\d{3})$"),
            name: re(r"^\p{Lu}[\p{L}'’.-]*(?: \p{Lu}[\p{L}'’.-]*){0,3}$"),
        }
    })
}

/// Luhn's check (ISO/IEC 7812-1) over the digits of `s`.
fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn card(value: &str) -> bool {
    if !value.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
        return false;
    }
    let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    if !(13..=19).contains(&digits.len()) || !luhn(&digits) {
        return false;
    }
    // A known issuer prefix (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro).
    let prefix = |n: usize| digits.iter().take(n).fold(0u32, |acc, d| acc * 10 + u32::from(*d));
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    p1 == 4
        || (51..=55).contains(&p2)
        || (2221..=2720).contains(&p4)
        || p2 == 34
        || p2 == 37
        || p4 == 6011
        || p2 == 65
        || p2 == 35
        || matches!(p4, 2131 | 1800)
        || matches!(p2, 36 | 38 | 39)
        || (300..=305).contains(&p3)
        || p2 == 62
        || matches!(p2, 50 | 56..=58 | 63 | 67)
}

fn iban(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
    if !matches(&patterns().iban, &compact) {
        return false;
    }
    // Move the first four characters to the end, letters as 10..35, mod 97 = 1.
    let (head, tail) = compact.split_at(4);
    let mut rem = 0u32;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            'A'..='Z' => u32::from(c) - u32::from('A') + 10,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

fn ssn(value: &str) -> bool {
    let Some(caps) = patterns().ssn.as_ref().and_then(|r| r.captures(value)) else { return false };
    let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let (area, group, serial) = (part(1), part(2), part(3));
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// `value` without a trailing extension (`x123`, `ext. 123`, `extension 123`).
fn without_extension(value: &str) -> &str {
    let lower = value.to_ascii_lowercase();
    let digits_from = lower.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits_from == lower.len() || lower.len() - digits_from > 6 {
        return value;
    }
    let head = lower.get(..digits_from).unwrap_or_default().trim_end();
    for mark in ["extension", "ext.", "ext", "x"] {
        if let Some(rest) = head.strip_suffix(mark) {
            if rest.ends_with(|c: char| c.is_ascii_digit() || c == ' ' || c == ')') {
                return value.get(..rest.trim_end().len()).unwrap_or(value);
            }
        }
    }
    value
}

fn phone(value: &str) -> bool {
    let value = without_extension(value);
    if !matches(&patterns().phone, value) {
        return false;
    }
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let plus = value.starts_with('+');
    let separated = value.bytes().any(|b| matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/'));
    // A bare digit string is a phone number only by name (order ids look alike);
    // dates and dotted IPv4 addresses are not phone numbers.
    (8..=15).contains(&digits) && (plus || separated) && !is_date_like(value) && value.parse::<Ipv4Addr>().is_err()
}

fn is_date_like(value: &str) -> bool {
    matches(&patterns().date, value)
}

fn birth_date(value: &str, this_year: i32) -> bool {
    let Some(caps) = patterns().date.as_ref().and_then(|r| r.captures(value)) else { return false };
    let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<i32>().ok()).unwrap_or(0);
    let (y, m, d) = (num(1), num(2), num(3));
    (1900..=this_year).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)
}

/// The entities `value` matches on its own (before any name hint): the cheap,
/// exact part of discovery, the same on every engine.
///
/// ```
/// use veil_core::classify::{classify_value, Entity};
/// assert!(classify_value("jane.doe@example.com").contains(Entity::EmailAddress));
/// assert!(classify_value("4111 1111 1111 1111").contains(Entity::CardNumber));
/// assert!(classify_value("DE89 3704 0044 0532 0130 00").contains(Entity::Iban));
/// assert!(classify_value("123-45-6789").contains(Entity::UsSsn));
/// assert!(classify_value("order 42").is_empty());
/// ```
pub fn classify_value(value: &str) -> Entities {
    let v = value.trim();
    let mut out = Entities::default();
    if v.is_empty() || v.len() > 512 {
        return out;
    }
    let p = patterns();
    if v.contains('@') && matches(&p.email, v) {
        out.insert(Entity::EmailAddress);
    }
    if ssn(v) {
        out.insert(Entity::UsSsn);
    } else if card(v) {
        out.insert(Entity::CardNumber);
    } else if phone(v) {
        out.insert(Entity::PhoneNumber);
    }
    if iban(v) {
        out.insert(Entity::Iban);
    }
    if v.parse::<Ipv4Addr>().is_ok() || (v.contains(':') && v.parse::<Ipv6Addr>().is_ok()) {
        out.insert(Entity::IpAddress);
    }
    if matches(&p.mac, v) {
        out.insert(Entity::MacAddress);
    }
    if v.starts_with("http") && matches(&p.url, v) {
        out.insert(Entity::Url);
    }
    out
}

/// The first entity (in [`Entity::ALL`] order) that `value` matches on its
/// own, if any: what the DuckDB extension's `veil_classify(value)` returns.
/// Entities that need a column's name (dates of birth, postal codes, person
/// names) are never found from a value alone.
///
/// ```
/// use veil_core::classify::{value_entity, Entity};
/// assert_eq!(value_entity(" jane@example.com "), Some(Entity::EmailAddress));
/// assert_eq!(value_entity("4111 1111 1111 1112"), None, "Luhn fails");
/// ```
pub fn value_entity(value: &str) -> Option<Entity> {
    classify_value(value).iter().next()
}

/// How a column's type bears on discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Character data.
    Text,
    /// A date or timestamp (sampled values as ISO text).
    Temporal,
    /// A number (sampled values as text).
    Number,
    /// Anything else (binary, boolean, nested): not classified by value.
    Other,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn col(name: &str, values: &[&str]) -> Vec<Entity> {
        let values: Vec<Option<&str>> = values.iter().map(|v| Some(*v)).collect();
        classify_column(name, ValueKind::Text, &values, 2026, &Thresholds::default())
            .into_iter()
            .filter_map(|f| Entity::parse(&f.entity))
            .collect()
    }

    #[test]
    fn every_pattern_compiles() {
        let p = patterns();
        for re in [&p.email, &p.phone, &p.ssn, &p.mac, &p.url, &p.iban, &p.date, &p.postal, &p.name] {
            assert!(re.is_some());
        }
    }

    #[test]
    fn validators_reject_lookalikes() {
        assert!(luhn(&[4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        assert!(!card("4111 1111 1111 1112"), "Luhn fails");
        assert!(!card("9999 9999 9999 9995"), "no issuer starts with 9");
        assert!(
            card("30569309025904") && card("213100000000001") && card("180000000000002"),
            "Diners 30x, JCB 2131/1800"
        );
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(!iban("GB82 WEST 1234 5698 7654 33"));
        assert!(!ssn("000-12-3456") && !ssn("666-12-3456") && !ssn("900-12-3456") && ssn("123-45-6789"));
        assert!(phone("+49 30 1234567") && phone("(555) 201-3344") && !phone("5552013344"));
        assert!(!phone("2024-01-31"));
        assert!(!phone("192.168.10.1"), "an IPv4 address");
        assert!(phone("(510)814-1561x735") && phone("001-711-925-3287 ext. 12") && phone("+1 212 555 0100 x9"));
        assert!(!phone("555-201-3344x") && !phone("x1234567") && !phone("555-201-3344x1234567"));
        assert_eq!(value_entity("192.168.10.1"), Some(Entity::IpAddress));
    }

    #[test]
    fn columns_by_values_and_names() {
        assert_eq!(col("email", &["a@b.co", "c@d.org", "e@f.net"]), [Entity::EmailAddress]);
        assert_eq!(col("order_id", &["5552013344", "5552013345", "5552013346"]), Vec::<Entity>::new());
        assert_eq!(col("phone", &["5552013344", "5552013345", "5552013346"]), [Entity::PhoneNumber]);
        assert_eq!(col("sku", &["4111111111111111", "5500005555555559", "4012888888881881"]), [Entity::CardNumber]);
        assert_eq!(col("first_name", &["Jane", "Omar", "Li"]), [Entity::PersonName]);
        assert_eq!(col("city", &["Lyon", "Oslo", "Rome"]), Vec::<Entity>::new(), "capitalised words without a hint");
        assert_eq!(col("zip", &["10115", "75001", "94105-1234"]), [Entity::PostalCode]);
        assert_eq!(col("note", &["call me at jane@example.com", "hi", "ok"]), Vec::<Entity>::new(), "free text");
        let dob = classify_column(
            "birth_date",
            ValueKind::Temporal,
            &[Some("1985-01-01"), Some("1990-12-31"), Some("2001-06-15")],
            2026,
            &Thresholds::default(),
        );
        assert_eq!(dob[0].entity, "DateOfBirth");
    }

    #[test]
    fn nulls_empty_and_odd_input_are_fine() {
        assert!(classify_column("email", ValueKind::Text, &[None, None], 2026, &Thresholds::default()).is_empty());
        assert!(classify_column("x", ValueKind::Text, &[], 2026, &Thresholds::default()).is_empty());
        assert!(classify_column("email", ValueKind::Other, &[Some("a@b.co")], 2026, &Thresholds::default()).is_empty());
        let long = "a".repeat(1 << 20);
        assert!(classify_value(&long).is_empty());
        assert!(classify_value("\u{0}\u{feff}@").is_empty());
    }

    #[test]
    fn name_words() {
        use super::column::{hinted, words};
        assert_eq!(words("customerEmail"), ["customeremail", "customer", "email"]);
        assert!(hinted(Entity::DateOfBirth, &words("DATE_OF_BIRTH")));
        assert!(!hinted(Entity::Url, &words("linkedin_id")));
    }
}
