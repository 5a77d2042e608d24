//! Who gets what, in words: every reader's access to every data source, as
//! `veil apply` records it beside the views it makes, and what a new apply
//! would change (`veil apply --dry-run`).
//!
//! A reader's access to a source is: allowed or not; for each column, how it is
//! shown (`shown`, or the masks of its chain in words); the row filters in
//! words. Two records compare by these words, so a change of mask, of who may
//! unmask, or of a row rule shows, and nothing else does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use veil_policy::{describe_mask, describe_rows, Engine, ReaderColumn};

use crate::Result;

/// The table `veil apply` records access in (one row per schema of secure views).
pub const ACCESS_TABLE: &str = "veil.applied_access";

/// What a column shows a reader when no mask applies.
pub const SHOWN: &str = "shown";

/// One reader's access to one data source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderAccess {
    /// May the reader read the source?
    pub allowed: bool,
    /// Each column (allowed readers only): `shown`, or its masks in words.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// Row filters in words (allowed readers only; none: every row).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<String>,
}

/// Access by data source, then by reader.
pub type AccessMap = BTreeMap<String, BTreeMap<String, ReaderAccess>>;

/// A column's chain in words: `shown`, or each step (`hashed (…) where …;
/// otherwise …`), the policy behind each in brackets.
pub fn describe_column(column: &ReaderColumn) -> String {
    if column.chain.is_empty() {
        return SHOWN.into();
    }
    let mut parts: Vec<String> = column
        .chain
        .iter()
        .map(|step| {
            let rows = step.rows.as_ref().map_or(String::new(), |r| format!(" where {}", r.sql));
            format!("{}{rows} [{}]", describe_mask(&step.mask), step.policy)
        })
        .collect();
    if column.chain.last().is_some_and(|s| s.rows.is_some()) {
        parts.push(format!("other rows {SHOWN}"));
    }
    parts.join("; otherwise ")
}

/// Every reader's access to `sources` (every source when empty), acting under no project.
///
/// # Errors
/// An unknown source, or a plan that cannot be built.
pub fn access_map(engine: &Engine, sources: &[String]) -> Result<AccessMap> {
    let mut out = AccessMap::new();
    for source in engine.catalog().sources() {
        if !sources.is_empty() && !sources.contains(&source.name) {
            continue;
        }
        let mut readers = BTreeMap::new();
        for user in engine.directory().users() {
            let subject = engine.directory().subject(&user.name, None)?;
            let plan = engine.plan_for(&subject, &source.name)?;
            let access = if plan.allowed {
                ReaderAccess {
                    allowed: true,
                    columns: plan.columns.iter().map(|c| (c.name.clone(), describe_column(c))).collect(),
                    rows: plan.row_filters.iter().map(describe_rows).collect(),
                }
            } else {
                ReaderAccess::default()
            };
            readers.insert(user.name.clone(), access);
        }
        out.insert(source.name.clone(), readers);
    }
    Ok(out)
}

/// `old` with the sources of `new` replaced (a partial apply keeps the rest).
pub fn merged(old: Option<AccessMap>, new: AccessMap, partial: bool) -> AccessMap {
    match old {
        Some(mut old) if partial => {
            old.extend(new);
            old
        }
        _ => new,
    }
}

/// One difference between two records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The reader may now read the source.
    Gains {
        /// Reader.
        reader: String,
        /// Data source.
        source: String,
    },
    /// The reader may no longer read the source.
    Loses {
        /// Reader.
        reader: String,
        /// Data source.
        source: String,
    },
    /// A column is shown differently.
    Column {
        /// Reader.
        reader: String,
        /// Data source.
        source: String,
        /// Column.
        column: String,
        /// How it was shown (none: the column is new).
        before: Option<String>,
        /// How it will be shown (none: the column is gone).
        after: Option<String>,
    },
    /// The row filters differ.
    Rows {
        /// Reader.
        reader: String,
        /// Data source.
        source: String,
        /// Filters before (none: every row).
        before: Vec<String>,
        /// Filters after.
        after: Vec<String>,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = |r: &[String]| if r.is_empty() { "every row".to_string() } else { r.join(" and ") };
        match self {
            Change::Gains { reader, source } => write!(f, "+ {reader} may read {source}"),
            Change::Loses { reader, source } => write!(f, "- {reader} may no longer read {source}"),
            Change::Column { reader, source, column, before, after } => write!(
                f,
                "~ {reader} sees {source}.{column}: {} -> {}",
                before.as_deref().unwrap_or("(no such column)"),
                after.as_deref().unwrap_or("(no such column)")
            ),
            Change::Rows { reader, source, before, after } => {
                write!(f, "~ {reader} reads {source} rows: {} -> {}", rows(before), rows(after))
            }
        }
    }
}

/// What changes from `old` to `new`, by source then reader. A source or reader
/// absent from `old` counts as not readable before.
pub fn diff(old: &AccessMap, new: &AccessMap) -> Vec<Change> {
    let none = BTreeMap::new();
    let denied = ReaderAccess::default();
    let mut sources: Vec<&String> = old.keys().chain(new.keys()).collect();
    sources.sort();
    sources.dedup();
    let mut out = Vec::new();
    for source in sources {
        let (before, after) = (old.get(source).unwrap_or(&none), new.get(source).unwrap_or(&none));
        let mut readers: Vec<&String> = before.keys().chain(after.keys()).collect();
        readers.sort();
        readers.dedup();
        for reader in readers {
            let (b, a) = (before.get(reader).unwrap_or(&denied), after.get(reader).unwrap_or(&denied));
            let (reader, source) = (reader.clone(), source.clone());
            match (b.allowed, a.allowed) {
                (false, true) => out.push(Change::Gains { reader, source }),
                (true, false) => out.push(Change::Loses { reader, source }),
                (false, false) => {}
                (true, true) => {
                    let mut columns: Vec<&String> = b.columns.keys().chain(a.columns.keys()).collect();
                    columns.sort();
                    columns.dedup();
                    for column in columns {
                        let (cb, ca) = (b.columns.get(column), a.columns.get(column));
                        if cb != ca {
                            out.push(Change::Column {
                                reader: reader.clone(),
                                source: source.clone(),
                                column: column.clone(),
                                before: cb.cloned(),
                                after: ca.cloned(),
                            });
                        }
                    }
                    if b.rows != a.rows {
                        out.push(Change::Rows { reader, source, before: b.rows.clone(), after: a.rows.clone() });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(allowed: bool, columns: &[(&str, &str)], rows: &[&str]) -> ReaderAccess {
        ReaderAccess {
            allowed,
            columns: columns.iter().map(|(c, d)| (c.to_string(), d.to_string())).collect(),
            rows: rows.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn map(entries: &[(&str, &str, ReaderAccess)]) -> AccessMap {
        let mut out = AccessMap::new();
        for (source, reader, a) in entries {
            out.entry(source.to_string()).or_default().insert(reader.to_string(), a.clone());
        }
        out
    }

    #[test]
    fn differences_are_named() {
        let old = map(&[
            ("s", "ann", access(true, &[("email", "shown"), ("ssn", "replaced by NULL [p]")], &[])),
            ("s", "bob", access(false, &[], &[])),
            ("gone", "ann", access(true, &[], &[])),
        ]);
        let new = map(&[
            ("s", "ann", access(true, &[("email", "hashed [p]"), ("ssn", "replaced by NULL [p]")], &["rows x"])),
            ("s", "bob", access(true, &[], &[])),
            ("s", "new", access(false, &[], &[])),
        ]);
        let changes: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            [
                "- ann may no longer read gone",
                "~ ann sees s.email: shown -> hashed [p]",
                "~ ann reads s rows: every row -> rows x",
                "+ bob may read s",
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn partial_records_keep_the_rest() {
        let old = map(&[("a", "x", access(true, &[], &[])), ("b", "x", access(true, &[], &[]))]);
        let new = map(&[("b", "x", access(false, &[], &[]))]);
        let m = merged(Some(old.clone()), new.clone(), true);
        assert!(m["a"]["x"].allowed && !m["b"]["x"].allowed);
        assert_eq!(merged(Some(old), new.clone(), false), new);
    }
}
