//! What changed between two snapshots.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::snapshot::{same_type, Kind, Snapshot, SourceSnapshot};

/// One difference between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A table or view that was not there before.
    SourceAdded {
        /// Data source.
        source: String,
        /// Table or view.
        kind: Kind,
    },
    /// A table or view that is gone.
    SourceDropped {
        /// Data source.
        source: String,
        /// Table or view.
        kind: Kind,
    },
    /// Redefined or recreated (its fingerprint changed), same kind.
    SourceRecreated {
        /// Data source.
        source: String,
        /// Fingerprint before.
        before: String,
        /// Fingerprint after.
        after: String,
    },
    /// A table became a view or the other way round.
    KindChanged {
        /// Data source.
        source: String,
        /// Kind before.
        before: Kind,
        /// Kind after.
        after: Kind,
    },
    /// A new column.
    ColumnAdded {
        /// Data source.
        source: String,
        /// Column.
        column: String,
        /// Its type, if known.
        #[serde(rename = "type")]
        data_type: Option<String>,
    },
    /// A column that is gone.
    ColumnDropped {
        /// Data source.
        source: String,
        /// Column.
        column: String,
    },
    /// A column whose type changed.
    TypeChanged {
        /// Data source.
        source: String,
        /// Column.
        column: String,
        /// Type before.
        before: String,
        /// Type after.
        after: String,
    },
    /// Table tags added or removed.
    TableTagsChanged {
        /// Data source.
        source: String,
        /// Tags added.
        added: Vec<String>,
        /// Tags removed.
        removed: Vec<String>,
    },
    /// Column tags added or removed.
    ColumnTagsChanged {
        /// Data source.
        source: String,
        /// Column.
        column: String,
        /// Tags added.
        added: Vec<String>,
        /// Tags removed.
        removed: Vec<String>,
    },
}

impl Change {
    /// The data source the change is about.
    pub fn source(&self) -> &str {
        match self {
            Change::SourceAdded { source, .. }
            | Change::SourceDropped { source, .. }
            | Change::SourceRecreated { source, .. }
            | Change::KindChanged { source, .. }
            | Change::ColumnAdded { source, .. }
            | Change::ColumnDropped { source, .. }
            | Change::TypeChanged { source, .. }
            | Change::TableTagsChanged { source, .. }
            | Change::ColumnTagsChanged { source, .. } => source,
        }
    }

    /// A short name for the kind of change (`column_added`, …), as in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Change::SourceAdded { .. } => "source_added",
            Change::SourceDropped { .. } => "source_dropped",
            Change::SourceRecreated { .. } => "source_recreated",
            Change::KindChanged { .. } => "kind_changed",
            Change::ColumnAdded { .. } => "column_added",
            Change::ColumnDropped { .. } => "column_dropped",
            Change::TypeChanged { .. } => "type_changed",
            Change::TableTagsChanged { .. } => "table_tags_changed",
            Change::ColumnTagsChanged { .. } => "column_tags_changed",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tags = |added: &[String], removed: &[String]| {
            let mut parts: Vec<String> = added.iter().map(|t| format!("+{t}")).collect();
            parts.extend(removed.iter().map(|t| format!("-{t}")));
            parts.join(" ")
        };
        match self {
            Change::SourceAdded { source, kind } => write!(f, "new {kind}      {source}"),
            Change::SourceDropped { source, kind } => write!(f, "dropped {kind}  {source}"),
            Change::SourceRecreated { source, .. } => write!(f, "recreated      {source}"),
            Change::KindChanged { source, before, after } => write!(f, "{before} -> {after}  {source}"),
            Change::ColumnAdded { source, column, data_type } => {
                write!(f, "new column     {source}.{column} {}", data_type.as_deref().unwrap_or("(type unknown)"))
            }
            Change::ColumnDropped { source, column } => write!(f, "dropped column {source}.{column}"),
            Change::TypeChanged { source, column, before, after } => {
                write!(f, "type changed   {source}.{column} {before} -> {after}")
            }
            Change::TableTagsChanged { source, added, removed } => {
                write!(f, "table tags     {source} {}", tags(added, removed))
            }
            Change::ColumnTagsChanged { source, column, added, removed } => {
                write!(f, "column tags    {source}.{column} {}", tags(added, removed))
            }
        }
    }
}

/// Every difference between two snapshots, source by source in name order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// The changes.
    pub changes: Vec<Change>,
}

impl Diff {
    /// No changes at all?
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The data sources with at least one change.
    pub fn sources(&self) -> BTreeSet<&str> {
        self.changes.iter().map(Change::source).collect()
    }

    /// The changes as an aligned text table, one per line.
    pub fn to_text(&self) -> String {
        if self.changes.is_empty() {
            return "no changes\n".to_string();
        }
        self.changes.iter().map(|c| format!("{c}\n")).collect()
    }
}

/// What changed from `old` to `new`.
///
/// Tags are compared only when both snapshots know them (an engine's
/// information_schema does not); types only where both sides know them;
/// fingerprints only where both sides have one.
///
/// ```
/// use veil_monitor::{diff, Change, Kind, LiveColumn, Snapshot};
/// let row = |c: &str| LiveColumn { schema: "main".into(), table: "t".into(), kind: Kind::Table,
///     fingerprint: None, column: c.into(), data_type: "INTEGER".into() };
/// let old = Snapshot::from_live([row("a")], "before");
/// let new = Snapshot::from_live([row("a"), row("b")], "after");
/// assert_eq!(diff(&old, &new).changes, vec![Change::ColumnAdded {
///     source: "main.t".into(), column: "b".into(), data_type: Some("INTEGER".into()) }]);
/// ```
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let tags = old.tags_known && new.tags_known;
    let mut changes = Vec::new();
    let names: BTreeSet<&String> = old.sources.keys().chain(new.sources.keys()).collect();
    for name in names {
        match (old.sources.get(name), new.sources.get(name)) {
            (Some(a), Some(b)) => {
                // The common case, and the cheap one: nothing changed here.
                if a.kind == b.kind && a.fingerprint == b.fingerprint && a.columns == b.columns && a.tags == b.tags {
                    continue;
                }
                source_changes(name, a, b, tags, &mut changes);
            }
            (None, Some(b)) => changes.push(Change::SourceAdded { source: name.clone(), kind: b.kind }),
            (Some(a), None) => changes.push(Change::SourceDropped { source: name.clone(), kind: a.kind }),
            (None, None) => {}
        }
    }
    Diff { changes }
}

fn source_changes(name: &str, a: &SourceSnapshot, b: &SourceSnapshot, tags: bool, out: &mut Vec<Change>) {
    let known = |k: Kind| k != Kind::Unknown;
    if known(a.kind) && known(b.kind) && a.kind != b.kind {
        out.push(Change::KindChanged { source: name.to_owned(), before: a.kind, after: b.kind });
    } else if let (Some(x), Some(y)) = (&a.fingerprint, &b.fingerprint) {
        if x != y && same_origin(x, y) {
            out.push(Change::SourceRecreated { source: name.to_owned(), before: x.clone(), after: y.clone() });
        }
    }
    if tags {
        let (added, removed) = tag_delta(&a.tags, &b.tags);
        if !added.is_empty() || !removed.is_empty() {
            out.push(Change::TableTagsChanged { source: name.to_owned(), added, removed });
        }
    }
    for column in &b.columns {
        match a.column(&column.name) {
            None => out.push(Change::ColumnAdded {
                source: name.to_owned(),
                column: column.name.clone(),
                data_type: column.data_type.clone(),
            }),
            Some(before) => {
                if !same_type(before.data_type.as_deref(), column.data_type.as_deref()) {
                    out.push(Change::TypeChanged {
                        source: name.to_owned(),
                        column: column.name.clone(),
                        before: before.data_type.clone().unwrap_or_default(),
                        after: column.data_type.clone().unwrap_or_default(),
                    });
                }
                if tags {
                    let (added, removed) = tag_delta(&before.tags, &column.tags);
                    if !added.is_empty() || !removed.is_empty() {
                        out.push(Change::ColumnTagsChanged {
                            source: name.to_owned(),
                            column: column.name.clone(),
                            added,
                            removed,
                        });
                    }
                }
            }
        }
    }
    for column in &a.columns {
        if b.column(&column.name).is_none() {
            out.push(Change::ColumnDropped { source: name.to_owned(), column: column.name.clone() });
        }
    }
}

/// Fingerprints of different origins (dbt checksum, engine SQL) do not compare.
fn same_origin(a: &str, b: &str) -> bool {
    a.split_once(':').map(|p| p.0) == b.split_once(':').map(|p| p.0)
}

fn tag_delta(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let added = after.iter().filter(|t| !before.contains(t)).cloned().collect();
    let removed = before.iter().filter(|t| !after.contains(t)).cloned().collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ColumnSnapshot;

    fn col(name: &str, ty: &str, tags: &[&str]) -> ColumnSnapshot {
        ColumnSnapshot {
            name: name.into(),
            data_type: Some(ty.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn snap(sources: Vec<(&str, Kind, Option<&str>, Vec<ColumnSnapshot>)>) -> Snapshot {
        let mut s = Snapshot::default();
        for (name, kind, fp, columns) in sources {
            s.sources.insert(
                name.into(),
                SourceSnapshot {
                    schema: Some("main".into()),
                    kind,
                    fingerprint: fp.map(str::to_owned),
                    columns,
                    ..SourceSnapshot::default()
                },
            );
        }
        s
    }

    #[test]
    fn every_kind_of_change() {
        let old = snap(vec![
            ("main.a", Kind::Table, Some("dbt:1"), vec![col("id", "INTEGER", &[]), col("gone", "VARCHAR", &[])]),
            ("main.b", Kind::Table, None, vec![col("x", "INTEGER", &["Old"])]),
            ("main.dropped", Kind::View, None, vec![col("x", "INTEGER", &[])]),
            ("main.same", Kind::Table, None, vec![col("x", "INTEGER", &[])]),
        ]);
        let new = snap(vec![
            ("main.a", Kind::Table, Some("dbt:2"), vec![col("id", "BIGINT", &[]), col("ssn", "VARCHAR", &[])]),
            ("main.b", Kind::View, None, vec![col("x", "INTEGER", &["New"])]),
            ("main.added", Kind::Table, None, vec![col("x", "INTEGER", &[])]),
            ("main.same", Kind::Table, None, vec![col("x", "INTEGER", &[])]),
        ]);
        let d = diff(&old, &new);
        let names: Vec<(&str, &str)> = d.changes.iter().map(|c| (c.source(), c.name())).collect();
        assert_eq!(
            names,
            [
                ("main.a", "source_recreated"),
                ("main.a", "type_changed"),
                ("main.a", "column_added"),
                ("main.a", "column_dropped"),
                ("main.added", "source_added"),
                ("main.b", "kind_changed"),
                ("main.b", "column_tags_changed"),
                ("main.dropped", "source_dropped"),
            ]
        );
        assert!(!d.sources().contains("main.same"));
        let text = d.to_text();
        assert!(text.contains("type changed   main.a.id INTEGER -> BIGINT"), "{text}");
        assert!(text.contains("column tags    main.b.x +New -Old"), "{text}");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["changes"][2]["change"], "column_added");
        assert_eq!(json["changes"][2]["type"], "VARCHAR");
    }

    #[test]
    fn tags_only_compared_when_both_sides_know_them() {
        let old = snap(vec![("main.b", Kind::Table, None, vec![col("x", "INTEGER", &["PII"])])]);
        let mut new = snap(vec![("main.b", Kind::Table, None, vec![col("x", "INTEGER", &[])])]);
        new.tags_known = false;
        assert!(diff(&old, &new).is_empty());
        new.tags_known = true;
        assert_eq!(diff(&old, &new).changes.len(), 1);
    }

    #[test]
    fn unknown_kinds_types_and_foreign_fingerprints_are_not_changes() {
        let old = snap(vec![("main.a", Kind::Unknown, Some("dbt:1"), vec![col("x", "integer", &[])])]);
        let mut new = snap(vec![("main.a", Kind::View, Some("sql:9"), vec![col("x", "INT", &[])])]);
        assert!(diff(&old, &new).is_empty(), "{:?}", diff(&old, &new));
        new.sources.get_mut("main.a").unwrap().columns[0].data_type = None;
        assert!(diff(&old, &new).is_empty());
    }
}
