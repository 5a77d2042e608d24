//! User-defined entities: a value pattern and/or one of veil's validators,
//! column-name patterns, and the share of values that must match. Loaded
//! from YAML by veil-policy (which turns [`EntityError`]s into file:line:column
//! errors); checked here, beside the built-in entities.

use std::net::{Ipv4Addr, Ipv6Addr};

use regex::{Regex, RegexBuilder};

use super::{card, iban, luhn, matches, patterns, ssn, Entity};

/// Longest value a user-defined entity looks at (bytes), as for built-ins.
const MAX_VALUE: usize = 512;
/// Compiled size limit of a user's regex (bytes): a pattern past it is refused.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A check a value must also pass, from veil's own validators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// The value's digits pass Luhn's check (ISO/IEC 7812-1); at least two digits.
    Luhn,
    /// A payment card number: 13–19 digits, a known issuer prefix, Luhn.
    CardNumber,
    /// An IBAN: ISO 13616 mod-97.
    Iban,
    /// A US SSN: `ddd-dd-dddd` with the SSA's rules.
    UsSsn,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// An e-mail address (RFC 5322's common form).
    EmailAddress,
}

impl Validator {
    /// Every validator with its name in YAML.
    pub const ALL: [(&'static str, Validator); 6] = [
        ("luhn", Validator::Luhn),
        ("card_number", Validator::CardNumber),
        ("iban", Validator::Iban),
        ("us_ssn", Validator::UsSsn),
        ("ip_address", Validator::IpAddress),
        ("email_address", Validator::EmailAddress),
    ];

    /// The validator named `name` (as in [`Validator::ALL`]).
    pub fn parse(name: &str) -> Option<Validator> {
        Validator::ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Does `value` (trimmed) pass?
    ///
    /// ```
    /// use veil_core::classify::Validator;
    /// assert!(Validator::Luhn.check("7992739871-3"));
    /// assert!(!Validator::Luhn.check("79927398714"));
    /// ```
    pub fn check(self, value: &str) -> bool {
        match self {
            Validator::Luhn => {
                let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
                digits.len() >= 2 && luhn(&digits)
            }
            Validator::CardNumber => card(value),
            Validator::Iban => iban(value),
            Validator::UsSsn => ssn(value),
            Validator::IpAddress => value.parse::<Ipv4Addr>().is_ok() || value.parse::<Ipv6Addr>().is_ok(),
            Validator::EmailAddress => matches(&patterns().email, value),
        }
    }
}

/// A user-defined entity as written (before checking).
#[derive(Clone, Debug, PartialEq)]
pub struct EntitySpec {
    /// Tag name under `Discovered.Entity` (`EmployeeId`, or dotted `Fr.Nir`).
    pub name: String,
    /// Regex every matching value must match whole (anchored for you).
    pub values: Option<String>,
    /// A validator matching values must also pass.
    pub validator: Option<String>,
    /// Regexes over the column name (case-insensitive, unanchored): a name hint.
    pub column_names: Vec<String>,
    /// Share of non-NULL sampled values that must match, without a name hint (0–1].
    pub min_share: f64,
    /// The same with a name hint.
    pub min_share_named: f64,
    /// Found only in columns whose name matches `column_names`.
    pub requires_name: bool,
}

impl Default for EntitySpec {
    fn default() -> Self {
        EntitySpec {
            name: String::new(),
            values: None,
            validator: None,
            column_names: Vec::new(),
            min_share: 0.8,
            min_share_named: 0.5,
            requires_name: false,
        }
    }
}

/// Why a user-defined entity was refused, and which part of it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntityError {
    /// The name is not a tag name, or is a built-in entity's.
    #[error("{0}")]
    Name(String),
    /// The `values` regex does not compile.
    #[error("the values pattern does not compile: {0}")]
    Values(String),
    /// No validator has this name.
    #[error("unknown validator `{0}`; veil has {1}")]
    Validator(String, String),
    /// The `index`-th column-name regex does not compile.
    #[error("column name pattern {index} does not compile: {message}")]
    ColumnName {
        /// Position in `column_names` (0-based).
        index: usize,
        /// The regex error.
        message: String,
    },
    /// A share outside (0, 1], or a rule that can never match.
    #[error("{0}")]
    Rule(String),
}

/// A checked user-defined entity.
#[derive(Clone, Debug)]
pub struct CustomEntity {
    /// Tag name under `Discovered.Entity`.
    pub name: String,
    values: Option<Regex>,
    validator: Option<Validator>,
    column_names: Vec<Regex>,
    /// See [`EntitySpec::min_share`].
    pub min_share: f64,
    /// See [`EntitySpec::min_share_named`].
    pub min_share_named: f64,
    /// See [`EntitySpec::requires_name`].
    pub requires_name: bool,
}

fn is_tag_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|segment| {
            segment.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string().lines().last().unwrap_or_default().trim().to_owned())
}

impl CustomEntity {
    /// Check and compile a spec.
    ///
    /// ```
    /// use veil_core::classify::{CustomEntity, EntityError, EntitySpec};
    /// let bad = EntitySpec { name: "X".into(), values: Some("([".into()), ..EntitySpec::default() };
    /// assert!(matches!(CustomEntity::new(&bad), Err(EntityError::Values(_))));
    /// ```
    ///
    /// # Errors
    /// [`EntityError`] naming the part that is wrong.
    pub fn new(spec: &EntitySpec) -> Result<CustomEntity, EntityError> {
        if !is_tag_name(&spec.name) {
            return Err(EntityError::Name(format!(
                "entity name `{}` is not a tag name (letters, digits and `_`, segments joined by `.`, each starting with a letter)",
                spec.name
            )));
        }
        if Entity::parse(&spec.name).is_some() {
            return Err(EntityError::Name(format!("`{}` is a built-in entity; give yours another name", spec.name)));
        }
        let values = spec.values.as_deref().map(|p| compile(&format!("^(?:{p})$"), false)).transpose();
        let values = values.map_err(EntityError::Values)?;
        let validator = match spec.validator.as_deref() {
            None => None,
            Some(name) => Some(Validator::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Validator::ALL.iter().map(|(n, _)| *n).collect();
                EntityError::Validator(name.to_owned(), known.join(", "))
            })?),
        };
        let column_names = spec
            .column_names
            .iter()
            .enumerate()
            .map(|(index, p)| compile(p, true).map_err(|message| EntityError::ColumnName { index, message }))
            .collect::<Result<Vec<_>, _>>()?;
        if values.is_none() && validator.is_none() {
            return Err(EntityError::Rule(
                "give `values` (a regex) or `validator`: veil needs something to check sampled values with".into(),
            ));
        }
        for (what, share) in [("min_share", spec.min_share), ("min_share_named", spec.min_share_named)] {
            if !(share > 0.0 && share <= 1.0) {
                return Err(EntityError::Rule(format!("`{what}` is {share}; it must be above 0 and at most 1")));
            }
        }
        if spec.requires_name && column_names.is_empty() {
            return Err(EntityError::Rule("`requires_name` needs `column_names` to match names with".into()));
        }
        Ok(CustomEntity {
            name: spec.name.clone(),
            values,
            validator,
            column_names,
            min_share: spec.min_share,
            min_share_named: spec.min_share_named,
            requires_name: spec.requires_name,
        })
    }

    /// Does a (trimmed, non-empty) value match: the pattern, then the validator?
    pub fn matches_value(&self, value: &str) -> bool {
        value.len() <= MAX_VALUE
            && self.values.as_ref().is_none_or(|r| r.is_match(value))
            && self.validator.is_none_or(|v| v.check(value))
    }

    /// Does the column's name match one of the name patterns?
    pub fn names_column(&self, column: &str) -> bool {
        self.column_names.iter().any(|r| r.is_match(column))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(name: &str) -> EntitySpec {
        EntitySpec { name: name.into(), values: Some(r"\d{4}".into()), ..EntitySpec::default() }
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert!(matches!(CustomEntity::new(&spec("EmailAddress")), Err(EntityError::Name(_))));
        assert!(matches!(CustomEntity::new(&spec("9lives")), Err(EntityError::Name(_))));
        assert!(matches!(CustomEntity::new(&spec("A..B")), Err(EntityError::Name(_))));
        assert!(CustomEntity::new(&spec("Fr.Nir_Key")).is_ok());
        let s = EntitySpec { validator: Some("crc32".into()), ..spec("X") };
        assert!(matches!(CustomEntity::new(&s), Err(EntityError::Validator(v, _)) if v == "crc32"));
        let s = EntitySpec { column_names: vec!["ok".into(), "(".into()], ..spec("X") };
        assert!(matches!(CustomEntity::new(&s), Err(EntityError::ColumnName { index: 1, .. })));
        let s = EntitySpec { values: None, ..spec("X") };
        assert!(matches!(CustomEntity::new(&s), Err(EntityError::Rule(_))));
        for share in [0.0, 1.5, f64::NAN] {
            let s = EntitySpec { min_share: share, ..spec("X") };
            assert!(matches!(CustomEntity::new(&s), Err(EntityError::Rule(_))), "{share}");
        }
        let s = EntitySpec { requires_name: true, ..spec("X") };
        assert!(matches!(CustomEntity::new(&s), Err(EntityError::Rule(_))));
        // A pattern too large to compile within the limit is refused, not built.
        let s = EntitySpec { values: Some(r"\w{1000}\w{1000}\w{1000}".into()), ..spec("X") };
        assert!(matches!(CustomEntity::new(&s), Err(EntityError::Values(_))));
    }

    #[test]
    fn values_are_matched_whole_then_validated() {
        let e = CustomEntity::new(&EntitySpec {
            name: "Account".into(),
            values: Some(r"\d{4}-\d{4}".into()),
            validator: Some("luhn".into()),
            column_names: vec!["acct".into()],
            ..EntitySpec::default()
        })
        .unwrap();
        assert!(e.matches_value("1234-5674"));
        assert!(!e.matches_value("1234-5675"), "Luhn fails");
        assert!(!e.matches_value("x1234-5674"), "anchored");
        assert!(e.names_column("CUSTOMER_ACCT_NO"));
        assert!(!e.names_column("account"));
        assert!(!e.matches_value(&"1".repeat(MAX_VALUE + 1)));
    }

    #[test]
    fn validators_by_name() {
        for (name, v) in Validator::ALL {
            assert_eq!(Validator::parse(name), Some(v));
        }
        assert!(Validator::IpAddress.check("::1") && Validator::IpAddress.check("10.0.0.1"));
        assert!(Validator::EmailAddress.check("a@b.co") && !Validator::EmailAddress.check("a@b"));
        assert!(!Validator::Luhn.check("0"), "one digit is no check");
    }
}
