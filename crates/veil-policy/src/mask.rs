//! Masks as policies name them, checked against column types.
//!
//! Each kind lines up with a veil-core function; the bindings generator picks
//! the function, veil-policy only says which mask with which parameters.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::catalog::ColumnType;
use crate::condition::Condition;
use crate::error::{Error, Location, Result};
use crate::policy::Who;
use crate::yaml::Source as Text;

/// Whose key a keyed hash uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashScope {
    /// A key per data source: equal inside a source, different across sources.
    #[default]
    Source,
    /// A key per project: equal across the project's sources (masked joins).
    Project,
}

/// Which end of a value [`Mask::Reveal`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// Keep the first N characters.
    First(u32),
    /// Keep the last N characters.
    Last(u32),
}

/// Numeric rounding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round to the nearest multiple of this width (e.g. 10, or 0.01), halves
    /// away from zero.
    Width(f64),
    /// Round to this many decimal places (negative: tens, hundreds, …), halves
    /// away from zero.
    Places(i32),
}

/// Truncation unit for dates and timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// To the minute.
    Minute,
    /// To the hour.
    Hour,
    /// To the day.
    Day,
    /// To the first day of the month.
    Month,
    /// To the first day of the quarter.
    Quarter,
    /// To the first day of the year.
    Year,
}

/// A constant value for [`Mask::Constant`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    /// `true` / `false`.
    Boolean(bool),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text (also dates and timestamps, in ISO 8601).
    Text(String),
}

/// A mask: how a value is shown instead of itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mask {
    /// Keyed HMAC-SHA-256 (veil-core `mask::keyed_hash`).
    Hash {
        /// Source or project key.
        scope: HashScope,
        /// Mix the reader's name into the key, so readers cannot compare hashes.
        per_reader: bool,
    },
    /// NULL.
    Null,
    /// The same value for every row.
    Constant {
        /// The value.
        value: Literal,
    },
    /// Regex replace (every match).
    Regex {
        /// The pattern (Rust `regex` syntax, compiled at load time).
        pattern: String,
        /// The replacement (`$1` refers to groups).
        replacement: String,
    },
    /// Keep the first or last N characters, fill the rest.
    Reveal {
        /// Which end is kept.
        keep: Keep,
        /// The fill character.
        fill: char,
    },
    /// Hide the local part of an e-mail address, keep the domain.
    Email,
    /// Round numbers.
    Round {
        /// How.
        rounding: Rounding,
    },
    /// Truncate dates and timestamps.
    Trunc {
        /// To what.
        unit: TimeUnit,
    },
    /// Deterministic AES-SIV token that authorised readers may unmask.
    Reversible {
        /// Who may unmask.
        unmaskers: Condition,
    },
    /// NIST FF1 format-preserving encryption (digits stay digits, letters letters).
    FormatPreserving,
    /// A custom mask: one function of a WebAssembly component meeting the
    /// `veil:mask` contract (wit/mask/mask.wit), called with the value as text and
    /// the policy's `params`; its text replaces the value, NULL stays NULL.
    Component {
        /// The component file: the path written, joined to the policy file's folder.
        component: PathBuf,
        /// The export called, as its WIT names it (e.g. `redact-iban`).
        function: String,
        /// The parameters after the value, by name, in the order written.
        params: Vec<(String, Literal)>,
        /// The prefix of the SQL functions the component's exports become on an
        /// engine that loads components: [`component_prefix`] of the file.
        prefix: String,
    },
}

/// The prefix under which an engine registers a component's exports (DuckDB's
/// `veil_wasm`: `<prefix>_<export>`, `-` as `_`): the file's stem in lowercase,
/// other characters than letters, digits and `_` as `_`, led by `mask_` unless it
/// starts with a letter (and always when it starts with `veil`, veil's own names).
///
/// ```
/// use veil_policy::component_prefix;
/// assert_eq!(component_prefix("masks/iban.wasm".as_ref()), "iban");
/// assert_eq!(component_prefix("../My-Masks.v2.wasm".as_ref()), "my_masks_v2");
/// assert_eq!(component_prefix("veil.wasm".as_ref()), "mask_veil");
/// assert_eq!(component_prefix("2fa.wasm".as_ref()), "mask_2fa");
/// ```
pub fn component_prefix(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let plain: String =
        stem.chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '_' }).collect();
    if plain.starts_with(|c: char| c.is_ascii_lowercase()) && !plain.starts_with("veil") {
        plain
    } else {
        format!("mask_{plain}")
    }
}

impl Mask {
    /// The protection rank of the mask kind: higher hides more. Conflicts
    /// between policies on one column resolve to the highest rank.
    ///
    /// ```
    /// use veil_policy::Mask;
    /// assert!(Mask::Null.protection() > Mask::Email.protection());
    /// ```
    pub fn protection(&self) -> u8 {
        match self {
            Mask::Null => 9,
            Mask::Constant { .. } => 8,
            Mask::Hash { .. } => 7,
            Mask::Reversible { .. } => 6,
            Mask::FormatPreserving => 5,
            Mask::Round { .. } | Mask::Trunc { .. } => 4,
            Mask::Email => 3,
            Mask::Reveal { .. } => 2,
            // What a custom mask hides is its own affair: ranked with regex, the lowest.
            Mask::Regex { .. } | Mask::Component { .. } => 1,
        }
    }

    /// The mask kind's name, as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Mask::Hash { .. } => "hash",
            Mask::Null => "null",
            Mask::Constant { .. } => "constant",
            Mask::Regex { .. } => "regex",
            Mask::Reveal { .. } => "reveal",
            Mask::Email => "email",
            Mask::Round { .. } => "round",
            Mask::Trunc { .. } => "trunc",
            Mask::Reversible { .. } => "reversible",
            Mask::FormatPreserving => "format_preserving",
            Mask::Component { .. } => "component",
        }
    }

    /// The type of the masked column in the output, or `Err` with the reason
    /// when the mask does not fit a column of type `input`.
    ///
    /// Rules: `null` and `constant` (when the value fits) keep the type; `hash`
    /// `reversible` and `component` accept any type, casting the value to text,
    /// and produce text; `regex`, `reveal`, `email` and `format_preserving` need
    /// text; `round` needs a number; `trunc` needs a date or timestamp.
    ///
    /// ```
    /// use veil_policy::{ColumnType, Mask, TimeUnit};
    /// let trunc = Mask::Trunc { unit: TimeUnit::Month };
    /// assert_eq!(trunc.output_type(&ColumnType::Date), Ok(ColumnType::Date));
    /// assert!(trunc.output_type(&ColumnType::Text).is_err());
    /// // Masks that would change nothing are refused: a date to the day, an integer to 1.
    /// let round = |w| Mask::Round { rounding: veil_policy::Rounding::Width(w) };
    /// assert!(round(1.0).output_type(&ColumnType::Integer).is_err());
    /// assert!(round(10.0).output_type(&ColumnType::Integer).is_ok());
    /// assert!(Mask::Trunc { unit: TimeUnit::Day }.output_type(&ColumnType::Date).is_err());
    /// ```
    pub fn output_type(&self, input: &ColumnType) -> Result<ColumnType, String> {
        let need = |ok: bool, what: &str| {
            if ok {
                Ok(input.clone())
            } else {
                Err(format!("mask `{}` needs a {what} column, not `{input}`", self.kind()))
            }
        };
        match self {
            Mask::Null => Ok(input.clone()),
            // A custom mask takes the value as text and gives text.
            Mask::Hash { .. } | Mask::Reversible { .. } | Mask::Component { .. } => Ok(ColumnType::Text),
            Mask::Regex { .. } | Mask::Reveal { .. } | Mask::Email | Mask::FormatPreserving => {
                need(*input == ColumnType::Text, "text")
            }
            Mask::Round { rounding } => {
                // Rounding finer than the column's own step would show every value as it is.
                let step = match input {
                    ColumnType::Integer => Some(0),
                    ColumnType::Decimal { scale, .. } => i32::try_from(*scale).ok(),
                    _ => None,
                };
                match (rounding, step) {
                    (Rounding::Width(w), Some(places)) if *w * 10f64.powi(places) <= 1.0 => Err(format!(
                        "rounding a `{input}` column to a multiple of {w} would show every value unchanged; use a coarser width"
                    )),
                    (Rounding::Places(p), Some(places)) if *p >= places => Err(format!(
                        "rounding a `{input}` column to {p} decimal place(s) would show every value unchanged; use fewer (-1: tens)"
                    )),
                    _ => need(input.is_numeric(), "number"),
                }
            }
            Mask::Trunc { unit } => match (input, unit) {
                // A date is whole days already: truncating it to a day or finer would
                // show every value as it is.
                (ColumnType::Date, TimeUnit::Minute | TimeUnit::Hour | TimeUnit::Day) => Err(format!(
                    "a date is whole days already: `trunc` to the {unit:?} would show it unchanged; use `month`, `quarter` or `year`"
                )
                .to_lowercase()),
                _ => need(input.is_temporal(), "date or timestamp"),
            },
            Mask::Constant { value } => {
                if literal_fits(value, input) {
                    Ok(input.clone())
                } else {
                    Err(format!("constant `{}` does not fit a `{input}` column", literal_text(value)))
                }
            }
        }
    }

    /// The same mask with reader conditions folded for one reader.
    pub(crate) fn fold(&self, subject: &crate::Subject) -> Mask {
        match self {
            Mask::Reversible { unmaskers } => Mask::Reversible {
                unmaskers: if unmaskers.eval(subject) { Condition::Always } else { Condition::Never },
            },
            m => m.clone(),
        }
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Boolean(b) => b.to_string(),
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Text(s) => s.clone(),
    }
}

fn literal_fits(value: &Literal, column: &ColumnType) -> bool {
    match (column, value) {
        (ColumnType::Text, Literal::Text(_)) => true,
        (ColumnType::Integer, Literal::Integer(_)) => true,
        (ColumnType::Float, Literal::Integer(_) | Literal::Float(_)) => true,
        (ColumnType::Decimal { precision, scale }, Literal::Integer(i)) => {
            digits(i.unsigned_abs()) + scale <= *precision
        }
        (ColumnType::Decimal { precision, scale }, Literal::Float(f)) => {
            let whole = f.abs().trunc();
            whole < 1e18 && digits(whole as u64) + scale <= *precision
        }
        (ColumnType::Boolean, Literal::Boolean(_)) => true,
        (ColumnType::Date, Literal::Text(s)) => is_date(s),
        (ColumnType::Timestamp, Literal::Text(s)) => is_timestamp(s),
        // Unknown types: only text constants, and the engine casts them.
        (ColumnType::Other { .. }, Literal::Text(_)) => true,
        _ => false,
    }
}

fn digits(n: u64) -> u32 {
    if n == 0 {
        1
    } else {
        n.ilog10() + 1
    }
}

/// `YYYY-MM-DD`.
static DATE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$").ok());

/// An ISO-8601 date with an optional time and offset.
static TIMESTAMP: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(
        r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
    )
    .ok()
});

fn is_date(s: &str) -> bool {
    DATE.as_ref().is_some_and(|r| r.is_match(s))
}

fn is_timestamp(s: &str) -> bool {
    TIMESTAMP.as_ref().is_some_and(|r| r.is_match(s))
}

/// A mask as written in YAML: one flat mapping, checked per kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawMask {
    /// `Option` because `type: null` written unquoted is a YAML null.
    #[serde(rename = "type")]
    kind: Spanned<Option<String>>,
    scope: Option<HashScope>,
    per_reader: Option<bool>,
    value: Option<Literal>,
    pattern: Option<Spanned<String>>,
    replacement: Option<String>,
    first: Option<u32>,
    last: Option<u32>,
    fill: Option<String>,
    width: Option<f64>,
    places: Option<i32>,
    unit: Option<TimeUnit>,
    unmaskers: Option<Who>,
    component: Option<Spanned<String>>,
    function: Option<Spanned<String>>,
    params: Option<Params>,
}

/// A custom mask's `params`: a mapping kept in the order written.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, Literal)>);

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Ordered;
        impl<'de> serde::de::Visitor<'de> for Ordered {
            type Value = Params;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of parameter names to values, e.g. `{keep-last: 4, fill: '*'}`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Params, A::Error> {
                let mut out: Vec<(String, Literal)> = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Literal>()? {
                    out.push((name, value));
                }
                Ok(Params(out))
            }
        }
        deserializer.deserialize_map(Ordered)
    }
}

const KINDS: &str =
    "hash, null, constant, regex, reveal, email, round, trunc, reversible, format_preserving, component";

impl RawMask {
    /// Where the mask is written.
    pub fn location(&self, text: &Text<'_>) -> Location {
        text.at(&self.kind)
    }

    /// Check the parameters for the kind and build the mask. `unmaskers` is
    /// compiled by the caller (it may use tag functions of a source), so it is
    /// returned separately.
    pub fn build(&self, text: &Text<'_>) -> Result<(Mask, Option<Who>)> {
        let at = text.at(&self.kind);
        let kind = self.kind.value.as_deref().unwrap_or("null");
        let present: Vec<&str> = [
            ("scope", self.scope.is_some()),
            ("perReader", self.per_reader.is_some()),
            ("value", self.value.is_some()),
            ("pattern", self.pattern.is_some()),
            ("replacement", self.replacement.is_some()),
            ("first", self.first.is_some()),
            ("last", self.last.is_some()),
            ("fill", self.fill.is_some()),
            ("width", self.width.is_some()),
            ("places", self.places.is_some()),
            ("unit", self.unit.is_some()),
            ("unmaskers", self.unmaskers.is_some()),
            ("component", self.component.is_some()),
            ("function", self.function.is_some()),
            ("params", self.params.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, here)| here.then_some(name))
        .collect();
        let allowed: &[&str] = match kind {
            "hash" => &["scope", "perReader"],
            "null" | "email" | "format_preserving" => &[],
            "constant" => &["value"],
            "regex" => &["pattern", "replacement"],
            "reveal" => &["first", "last", "fill"],
            "round" => &["width", "places"],
            "trunc" => &["unit"],
            "reversible" => &["unmaskers"],
            "component" => &["component", "function", "params"],
            _ => return Err(Error::invalid(at, format!("unknown mask type `{kind}`"), format!("use one of: {KINDS}"))),
        };
        if let Some(extra) = present.iter().find(|p| !allowed.contains(p)) {
            return Err(Error::invalid(
                at,
                format!("mask `{kind}` has no parameter `{extra}`"),
                if allowed.is_empty() {
                    format!("mask `{kind}` takes no parameters")
                } else {
                    format!("mask `{kind}` takes: {}", allowed.join(", "))
                },
            ));
        }
        let missing = |what: &str| {
            Error::invalid(
                at.clone(),
                format!("mask `{kind}` needs `{what}`"),
                "see the mask table in docs/policies.md",
            )
        };
        let mask = match kind {
            "hash" => {
                Mask::Hash { scope: self.scope.unwrap_or_default(), per_reader: self.per_reader.unwrap_or(false) }
            }
            "null" => Mask::Null,
            "email" => Mask::Email,
            "format_preserving" => Mask::FormatPreserving,
            "constant" => Mask::Constant { value: self.value.clone().ok_or_else(|| missing("value"))? },
            "regex" => {
                let pattern = self.pattern.as_ref().ok_or_else(|| missing("pattern"))?;
                if let Err(e) = regex::Regex::new(&pattern.value) {
                    return Err(Error::invalid(
                        text.at(pattern),
                        format!("regex `{}` does not compile", pattern.value),
                        e.to_string().lines().last().unwrap_or("").trim().to_string(),
                    ));
                }
                Mask::Regex {
                    pattern: pattern.value.clone(),
                    replacement: self.replacement.clone().ok_or_else(|| missing("replacement"))?,
                }
            }
            "reveal" => {
                let keep = match (self.first, self.last) {
                    (Some(n), None) => Keep::First(n),
                    (None, Some(n)) => Keep::Last(n),
                    _ => {
                        return Err(Error::invalid(
                            at,
                            "mask `reveal` needs exactly one of `first` and `last`",
                            "e.g. `{type: reveal, last: 4}`",
                        ))
                    }
                };
                let fill = match self.fill.as_deref() {
                    None => 'X',
                    Some(f) => {
                        let mut chars = f.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => c,
                            _ => {
                                return Err(Error::invalid(
                                    at,
                                    format!("`fill` must be one character, got `{f}`"),
                                    "e.g. `fill: '*'`",
                                ))
                            }
                        }
                    }
                };
                Mask::Reveal { keep, fill }
            }
            "round" => {
                let rounding = match (self.width, self.places) {
                    (Some(w), None) if w > 0.0 && w.is_finite() => Rounding::Width(w),
                    (Some(w), None) => {
                        return Err(Error::invalid(
                            at,
                            format!("rounding width must be a positive number, got `{w}`"),
                            "e.g. `width: 10` or `width: 0.01`",
                        ))
                    }
                    (None, Some(p)) => Rounding::Places(p),
                    _ => {
                        return Err(Error::invalid(
                            at,
                            "mask `round` needs exactly one of `width` and `places`",
                            "e.g. `{type: round, width: 10}`",
                        ))
                    }
                };
                Mask::Round { rounding }
            }
            "trunc" => Mask::Trunc { unit: self.unit.ok_or_else(|| missing("unit"))? },
            "component" => {
                let component = self.component.as_ref().ok_or_else(|| missing("component"))?;
                let function = self.function.as_ref().ok_or_else(|| missing("function"))?;
                let written = Path::new(component.value.trim());
                if component.value.trim().is_empty() || written.file_stem().is_none() {
                    return Err(Error::invalid(
                        text.at(component),
                        "`component` names no file",
                        "give the component's path, relative to this policy file: e.g. `masks/iban.wasm`",
                    ));
                }
                if function.value.trim().is_empty() {
                    return Err(Error::invalid(
                        text.at(function),
                        "`function` is empty",
                        "name the export the mask calls, e.g. `redact-iban`",
                    ));
                }
                let folder = text.path.parent().unwrap_or(Path::new(""));
                // Without `.` steps, so one file named two ways is one component.
                let component =
                    folder.join(written).components().filter(|c| *c != std::path::Component::CurDir).collect();
                Mask::Component {
                    component,
                    function: function.value.clone(),
                    params: self.params.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
                    prefix: component_prefix(written),
                }
            }
            // "reversible": the caller compiles `unmaskers`; without it no one may unmask.
            _ => Mask::Reversible { unmaskers: Condition::Never },
        };
        Ok((mask, self.unmaskers.clone()))
    }
}
