//! Column-level classification: a column's name, kind and sampled values
//! against the built-in entities and any user-defined ones.

use super::custom::CustomEntity;
use super::{birth_date, classify_value, matches, patterns, Entity, ValueKind};

/// One entity found in a column, with its evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The entity's tag name (`EmailAddress`, or a user-defined entity's name).
    pub entity: String,
    /// 0–1: the share of matching values, raised by a name hint.
    pub confidence: f64,
    /// Share of the non-NULL sampled values that match (0–1).
    pub share: f64,
    /// Whether the column's name hints at the entity.
    pub name_hint: bool,
    /// Non-NULL values sampled.
    pub sampled: usize,
}

/// Thresholds: the share of matching values needed to report a built-in entity.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// Without a name hint.
    pub values_only: f64,
    /// With a name hint.
    pub with_hint: f64,
    /// Fewest non-NULL values to say anything from values.
    pub min_values: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { values_only: 0.8, with_hint: 0.5, min_values: 3 }
    }
}

/// Lower-case words of a column name, split at `_`, `-`, `.`, spaces and
/// lower-to-upper case changes; also the whole name, lower case.
pub(crate) fn words(name: &str) -> Vec<String> {
    let mut out = vec![name.to_lowercase()];
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | '.' | ' ') {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

pub(crate) fn hinted(entity: Entity, words: &[String]) -> bool {
    let whole = words.first().map_or("", String::as_str);
    entity.name_hints().iter().any(|h| whole == *h || words.iter().skip(1).any(|w| w == h))
        // `first_name`, `date_of_birth`: a hint spanning words.
        || entity.name_hints().iter().any(|h| h.contains('_') && whole.contains(h))
}

fn confidence(share: f64, hint: bool) -> f64 {
    if hint {
        (share + 0.25).min(1.0)
    } else {
        share * 0.95
    }
}

/// Classifies columns: the built-in entities, then user-defined ones.
///
/// ```
/// use veil_core::classify::{Classifier, CustomEntity, EntitySpec, ValueKind};
/// let employee_id = CustomEntity::new(&EntitySpec {
///     name: "EmployeeId".into(),
///     values: Some(r"E-\d{6}".into()),
///     ..EntitySpec::default()
/// }).unwrap();
/// let classifier = Classifier::new(2026).with_custom(vec![employee_id]);
/// let values = [Some("E-000123"), Some("E-004567"), Some("E-999001")];
/// let found = classifier.classify_column("staff", ValueKind::Text, &values);
/// assert_eq!(found[0].entity, "EmployeeId");
/// ```
#[derive(Clone, Debug)]
pub struct Classifier {
    /// Shares needed for the built-in entities.
    pub thresholds: Thresholds,
    /// The current year: birth dates after it are not plausible.
    pub this_year: i32,
    custom: Vec<CustomEntity>,
}

impl Classifier {
    /// The built-in entities with the default thresholds.
    pub fn new(this_year: i32) -> Classifier {
        Classifier { thresholds: Thresholds::default(), this_year, custom: Vec::new() }
    }

    /// Add user-defined entities (checked after the built-in ones).
    #[must_use]
    pub fn with_custom(mut self, entities: Vec<CustomEntity>) -> Classifier {
        self.custom.extend(entities);
        self
    }

    /// The user-defined entities.
    pub fn custom(&self) -> &[CustomEntity] {
        &self.custom
    }

    /// Classify a column from its name, kind and sampled values (`None` = NULL).
    /// Findings are sorted by confidence, highest first; NULL-only, empty and
    /// non-text columns yield name-based findings only where the entity allows
    /// it, never an error.
    pub fn classify_column(&self, name: &str, kind: ValueKind, values: &[Option<&str>]) -> Vec<Finding> {
        let words = words(name);
        let present: Vec<&str> = values.iter().flatten().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        let by_value = kind != ValueKind::Other;
        let mut out = self.builtin(&words, kind, &present);
        let n = present.len();
        for entity in &self.custom {
            let named = entity.names_column(name);
            let hits = if by_value { present.iter().filter(|v| entity.matches_value(v)).count() } else { 0 };
            let share = if n == 0 { 0.0 } else { hits as f64 / n as f64 };
            let needed = if named { entity.min_share_named } else { entity.min_share };
            let found = n >= self.thresholds.min_values && share >= needed && (named || !entity.requires_name);
            if found {
                out.push(Finding {
                    entity: entity.name.clone(),
                    confidence: confidence(share, named),
                    share,
                    name_hint: named,
                    sampled: n,
                });
            }
        }
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out
    }

    fn builtin(&self, words: &[String], kind: ValueKind, present: &[&str]) -> Vec<Finding> {
        let thresholds = &self.thresholds;
        let n = present.len();
        let mut counts = [0usize; Entity::ALL.len()];
        if kind != ValueKind::Other {
            for v in present {
                let found = classify_value(v);
                for (i, e) in Entity::ALL.into_iter().enumerate() {
                    let hit = match e {
                        Entity::DateOfBirth => birth_date(v, self.this_year),
                        Entity::PostalCode => matches(&patterns().postal, v),
                        Entity::PersonName => kind == ValueKind::Text && matches(&patterns().name, v),
                        // A bare number is a phone number by name only.
                        Entity::PhoneNumber => {
                            found.contains(e)
                                || (hinted(e, words)
                                    && (8..=15).contains(&v.bytes().filter(u8::is_ascii_digit).count())
                                    && v.bytes().all(|b| b.is_ascii_digit() || b == b'+'))
                        }
                        _ => found.contains(e),
                    };
                    if hit {
                        if let Some(c) = counts.get_mut(i) {
                            *c += 1;
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (i, e) in Entity::ALL.into_iter().enumerate() {
            let hint = hinted(e, words);
            let share = if n == 0 { 0.0 } else { counts.get(i).copied().unwrap_or(0) as f64 / n as f64 };
            let enough = n >= thresholds.min_values;
            let found = if e.values_decide() {
                enough && share >= if hint { thresholds.with_hint } else { thresholds.values_only }
            } else {
                hint && enough && share >= thresholds.with_hint
                    || (e == Entity::DateOfBirth && hint && kind == ValueKind::Temporal && n == 0)
            };
            if found {
                out.push(Finding {
                    entity: e.name().to_owned(),
                    confidence: confidence(share, hint),
                    share,
                    name_hint: hint,
                    sampled: n,
                });
            }
        }
        // A card number is also a digit string a phone pattern could take; an SSN never both.
        if out.iter().any(|f| f.entity == Entity::CardNumber.name()) {
            out.retain(|f| f.entity != Entity::PhoneNumber.name() || f.name_hint);
        }
        out
    }
}

/// Classify a column against the built-in entities (see [`Classifier`] for
/// user-defined ones). `this_year` bounds plausible birth years.
///
/// ```
/// use veil_core::classify::{classify_column, Thresholds, ValueKind};
/// let values = [Some("jane@example.com"), Some("omar@example.org"), None, Some("li@example.net")];
/// let found = classify_column("contact", ValueKind::Text, &values, 2026, &Thresholds::default());
/// assert_eq!(found[0].entity, "EmailAddress");
/// assert_eq!(found[0].share, 1.0);
/// ```
pub fn classify_column(
    name: &str,
    kind: ValueKind,
    values: &[Option<&str>],
    this_year: i32,
    thresholds: &Thresholds,
) -> Vec<Finding> {
    let classifier = Classifier { thresholds: *thresholds, this_year, custom: Vec::new() };
    classifier.classify_column(name, kind, values)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::classify::EntitySpec;

    fn some<'a>(values: &[&'a str]) -> Vec<Option<&'a str>> {
        values.iter().map(|v| Some(*v)).collect()
    }

    #[test]
    fn custom_entities_by_share_name_and_kind() {
        let ward = CustomEntity::new(&EntitySpec {
            name: "Hospital.Ward".into(),
            values: Some(r"W\d{2}".into()),
            column_names: vec![r"ward".into()],
            min_share: 0.9,
            min_share_named: 0.6,
            requires_name: false,
            validator: None,
        })
        .unwrap();
        let icd = CustomEntity::new(&EntitySpec {
            name: "Icd10".into(),
            values: Some(r"[A-Z]\d{2}(\.\d{1,2})?".into()),
            column_names: vec![r"^(icd|diagnosis)".into()],
            requires_name: true,
            ..EntitySpec::default()
        })
        .unwrap();
        let c = Classifier::new(2026).with_custom(vec![ward, icd]);
        let names = |column: &str, values: &[&str], kind| -> Vec<String> {
            c.classify_column(column, kind, &some(values)).into_iter().map(|f| f.entity).collect()
        };
        // 3 of 4 match: enough with the name hint (0.6), not without (0.9).
        let mostly = ["W01", "W02", "W03", "lobby"];
        assert_eq!(names("ward_code", &mostly, ValueKind::Text), ["Hospital.Ward"]);
        assert!(names("location", &mostly, ValueKind::Text).is_empty());
        assert_eq!(names("location", &["W01", "W02", "W03"], ValueKind::Text), ["Hospital.Ward"]);
        // Needs its name: codes alone are too common a shape.
        let codes = ["A01", "J45.1", "E11.65"];
        assert!(names("code", &codes, ValueKind::Text).is_empty());
        assert_eq!(names("diagnosis", &codes, ValueKind::Text), ["Icd10"]);
        // Binary or nested columns and too few values say nothing.
        assert!(names("diagnosis", &codes, ValueKind::Other).is_empty());
        assert!(names("diagnosis", &codes[..2], ValueKind::Text).is_empty());
        let f = &c.classify_column("diagnosis", ValueKind::Text, &some(&codes))[0];
        assert!(f.name_hint && f.share == 1.0 && f.sampled == 3);
    }
}
