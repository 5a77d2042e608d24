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

/// Who gets what: by data source, the distinct accesses readers get and which
/// reader gets which. Stored compactly: each source lists its distinct
/// accesses once, and readers point at them through a vector of indexes that
/// sources with the same pattern share, so a record grows with the distinct
/// patterns, not with readers × sources (10,000 sources × 100 readers: 151 MB
/// as one map of every pair, a few kB this way).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessMap {
    /// Readers, in the order [`AccessMap::patterns`] index them.
    pub readers: Vec<String>,
    /// Distinct patterns: per reader (as [`AccessMap::readers`] orders them),
    /// the index of its access in a source's [`SourceAccess::accesses`].
    pub patterns: Vec<Vec<u32>>,
    /// By data source.
    pub sources: BTreeMap<String, SourceAccess>,
}

/// Builds an [`AccessMap`] a source at a time, sharing equal patterns.
struct Builder {
    map: AccessMap,
    patterns: std::collections::HashMap<Vec<u32>, u32>,
}

impl Builder {
    fn new(readers: Vec<String>) -> Self {
        Builder { map: AccessMap { readers, ..AccessMap::default() }, patterns: std::collections::HashMap::new() }
    }

    /// Each reader's access to `source`, in the readers' order.
    fn push(&mut self, source: String, each: Vec<ReaderAccess>) {
        let mut accesses: Vec<ReaderAccess> = Vec::new();
        let pattern: Vec<u32> = each
            .into_iter()
            .map(|a| match accesses.iter().position(|x| *x == a) {
                Some(i) => i as u32,
                None => {
                    accesses.push(a);
                    (accesses.len() - 1) as u32
                }
            })
            .collect();
        let next = self.map.patterns.len() as u32;
        let patterns = &mut self.map.patterns;
        let pattern = *self.patterns.entry(pattern.clone()).or_insert_with(|| {
            patterns.push(pattern);
            next
        });
        self.map.sources.insert(source, SourceAccess { accesses, pattern });
    }
}

/// The readers' access to one data source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAccess {
    /// The distinct accesses readers get.
    pub accesses: Vec<ReaderAccess>,
    /// Which of [`AccessMap::patterns`] says who gets which.
    pub pattern: u32,
}

impl AccessMap {
    /// A record of `readers` (in this order) and, per source, each reader's access in that order.
    pub fn build(readers: Vec<String>, sources: impl IntoIterator<Item = (String, Vec<ReaderAccess>)>) -> Self {
        let mut builder = Builder::new(readers);
        for (source, each) in sources {
            builder.push(source, each);
        }
        builder.map
    }

    /// `reader`'s access to `source`, if the record has both.
    pub fn get(&self, source: &str, reader: &str) -> Option<&ReaderAccess> {
        let at = self.readers.iter().position(|r| r == reader)?;
        self.access_at(source, at)
    }

    fn access_at(&self, source: &str, reader: usize) -> Option<&ReaderAccess> {
        let s = self.sources.get(source)?;
        let i = self.patterns.get(s.pattern as usize)?.get(reader)?;
        s.accesses.get(*i as usize)
    }

    /// Every reader's access to `source`, in [`AccessMap::readers`] order.
    fn row(&self, source: &str) -> Vec<ReaderAccess> {
        (0..self.readers.len()).map(|r| self.access_at(source, r).cloned().unwrap_or_default()).collect()
    }

    /// The same record with only `sources`.
    pub fn only(&self, sources: &[String]) -> Self {
        AccessMap::build(
            self.readers.clone(),
            self.sources.keys().filter(|s| sources.contains(s)).map(|s| (s.clone(), self.row(s))),
        )
    }

    /// The record as stored (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored record: this form, or the map of every (source, reader) pair
    /// earlier versions stored.
    ///
    /// # Errors
    /// Text that is neither.
    pub fn from_json(text: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str::<AccessMap>(text).or_else(|e| {
            let pairs: BTreeMap<String, BTreeMap<String, ReaderAccess>> = serde_json::from_str(text).map_err(|_| e)?;
            let mut readers: Vec<String> = pairs.values().flat_map(|r| r.keys().cloned()).collect();
            readers.sort();
            readers.dedup();
            let rows: Vec<(String, Vec<ReaderAccess>)> = pairs
                .iter()
                .map(|(s, by)| (s.clone(), readers.iter().map(|r| by.get(r).cloned().unwrap_or_default()).collect()))
                .collect();
            Ok(AccessMap::build(readers, rows))
        })
    }
}

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
    let users: Vec<&veil_policy::User> = engine.directory().users().collect();
    let subjects =
        users.iter().map(|u| engine.directory().subject(&u.name, None)).collect::<std::result::Result<Vec<_>, _>>()?;
    let mut builder = Builder::new(users.iter().map(|u| u.name.clone()).collect());
    for source in engine.catalog().sources() {
        if !sources.is_empty() && !sources.contains(&source.name) {
            continue;
        }
        let mut each = Vec::with_capacity(subjects.len());
        for subject in &subjects {
            let plan = engine.plan_for(subject, &source.name)?;
            each.push(if plan.allowed {
                ReaderAccess {
                    allowed: true,
                    columns: plan.columns.iter().map(|c| (c.name.clone(), describe_column(c))).collect(),
                    rows: plan.row_filters.iter().map(describe_rows).collect(),
                }
            } else {
                ReaderAccess::default()
            });
        }
        builder.push(source.name.clone(), each);
    }
    Ok(builder.map)
}

/// `old` with the sources of `new` replaced (a partial apply keeps the rest).
pub fn merged(old: Option<AccessMap>, new: AccessMap, partial: bool) -> AccessMap {
    match old {
        Some(old) if partial => {
            let mut readers: Vec<String> = old.readers.iter().chain(&new.readers).cloned().collect();
            readers.sort();
            readers.dedup();
            let mut sources: Vec<&String> = old.sources.keys().chain(new.sources.keys()).collect();
            sources.sort();
            sources.dedup();
            let (old_at, new_at) = (reader_index(&old), reader_index(&new));
            let rows: Vec<(String, Vec<ReaderAccess>)> = sources
                .into_iter()
                .map(|s| {
                    let (from, at) = if new.sources.contains_key(s) { (&new, &new_at) } else { (&old, &old_at) };
                    let each = readers
                        .iter()
                        .map(|r| at.get(r.as_str()).and_then(|&i| from.access_at(s, i)).cloned().unwrap_or_default())
                        .collect();
                    (s.clone(), each)
                })
                .collect();
            AccessMap::build(readers, rows)
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

fn reader_index(map: &AccessMap) -> std::collections::HashMap<&str, usize> {
    map.readers.iter().enumerate().map(|(i, r)| (r.as_str(), i)).collect()
}

/// What changes from `old` to `new`, by source then reader. A source or reader
/// absent from `old` counts as not readable before.
pub fn diff(old: &AccessMap, new: &AccessMap) -> Vec<Change> {
    let denied = ReaderAccess::default();
    let mut sources: Vec<&String> = old.sources.keys().chain(new.sources.keys()).collect();
    sources.sort();
    sources.dedup();
    let mut readers: Vec<&String> = old.readers.iter().chain(&new.readers).collect();
    readers.sort();
    readers.dedup();
    let (old_at, new_at) = (reader_index(old), reader_index(new));
    let same_readers = old.readers == new.readers;
    let mut out = Vec::new();
    for source in sources {
        if same_readers {
            let (b, a) = (old.sources.get(source), new.sources.get(source));
            if let (Some(b), Some(a)) = (b, a) {
                if b.accesses == a.accesses
                    && old.patterns.get(b.pattern as usize) == new.patterns.get(a.pattern as usize)
                {
                    continue;
                }
            }
        }
        for &reader in &readers {
            let b = old_at.get(reader.as_str()).and_then(|&i| old.access_at(source, i)).unwrap_or(&denied);
            let a = new_at.get(reader.as_str()).and_then(|&i| new.access_at(source, i)).unwrap_or(&denied);
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
        let mut pairs: BTreeMap<String, BTreeMap<String, ReaderAccess>> = BTreeMap::new();
        for (source, reader, a) in entries {
            pairs.entry(source.to_string()).or_default().insert(reader.to_string(), a.clone());
        }
        AccessMap::from_json(&serde_json::to_string(&pairs).unwrap()).unwrap()
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
        assert!(m.get("a", "x").unwrap().allowed && !m.get("b", "x").unwrap().allowed);
        assert_eq!(merged(Some(old), new.clone(), false), new);
    }

    #[test]
    fn a_record_grows_with_patterns_not_with_readers_times_sources() {
        let readers: Vec<String> = (0..200).map(|i| format!("reader{i}")).collect();
        let shown = access(true, &[("id", "shown"), ("email", "hashed [p]")], &[]);
        let rows: Vec<(String, Vec<ReaderAccess>)> = (0..2000)
            .map(|s| {
                let each = (0..readers.len())
                    .map(|r| if r % 3 == 0 { ReaderAccess::default() } else { shown.clone() })
                    .collect();
                (format!("main.t{s}"), each)
            })
            .collect();
        let map = AccessMap::build(readers.clone(), rows);
        assert_eq!(map.patterns.len(), 1);
        let json = map.to_json();
        // Per source its two accesses; the 200 readers are listed once, not per source.
        assert!(json.len() < 2000 * 150, "{} bytes", json.len());
        let back = AccessMap::from_json(&json).unwrap();
        assert_eq!(back, map);
        assert!(!back.get("main.t7", "reader3").unwrap().allowed);
        assert_eq!(back.get("main.t7", "reader4"), Some(&shown));
        assert_eq!(back.get("main.t7", "nobody"), None);
        assert!(diff(&back, &map).is_empty());
    }

    #[test]
    fn records_of_different_readers_compare_and_merge_by_name() {
        let old = map(&[("a", "ann", access(true, &[], &[])), ("b", "ann", access(true, &[], &[]))]);
        let new = map(&[("b", "bob", access(true, &[("c", "shown")], &[])), ("b", "ann", access(false, &[], &[]))]);
        let changes: Vec<String> = diff(&old.only(&["b".into()]), &new).iter().map(ToString::to_string).collect();
        assert_eq!(changes, ["- ann may no longer read b", "+ bob may read b"]);
        let m = merged(Some(old), new, true);
        assert_eq!(m.readers, ["ann", "bob"]);
        assert!(m.get("a", "ann").unwrap().allowed && !m.get("a", "bob").unwrap().allowed);
        assert!(!m.get("b", "ann").unwrap().allowed && m.get("b", "bob").unwrap().allowed);
    }
}
