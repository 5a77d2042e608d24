//! Catalog snapshots: what data sources exist, of what kind, with which typed
//! and tagged columns, at one moment, from one origin.
//!
//! The JSON form (see `docs/monitoring.md`):
//!
//! ```json
//! {"veil_snapshot": 1, "origin": "dbt:shop/target", "tags_known": true,
//!  "sources": {"main.customers": {"schema": "main", "kind": "table",
//!    "fingerprint": "dbt:2735…", "tags": ["Customer"], "view": "customers",
//!    "columns": [{"name": "email", "type": "VARCHAR", "tags": ["PII.Email"]}]}}}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use veil_dbt::DbtArtifacts;
use veil_policy::{Catalog, Column, ColumnType, DataSource};

use crate::error::{Error, Result};

/// The version of the snapshot format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Table, view, or not known (a catalog YAML file does not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A stored table (dbt: `table`, `incremental`, `seed`, `snapshot`).
    Table,
    /// A view.
    View,
    /// Not known.
    #[default]
    Unknown,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Table => "table",
            Kind::View => "view",
            Kind::Unknown => "relation",
        })
    }
}

/// A column in a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSnapshot {
    /// Column name.
    pub name: String,
    /// The type as the origin spells it (`VARCHAR`, `DECIMAL(18,3)`); none if unknown.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Column tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// A data source (table or view) in a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSnapshot {
    /// Schema, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The relation's own name as the engine stores it; when absent (older
    /// snapshots), the source name without its `schema.` prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Table or view.
    #[serde(default)]
    pub kind: Kind,
    /// Something that changes when the relation is redefined or recreated: dbt's
    /// checksum of the model file (`dbt:<sha256>`), or the md5 of a view's SQL in
    /// the engine (`sql:<md5>`). None when nothing observable identifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Table tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Columns in table order.
    #[serde(default)]
    pub columns: Vec<ColumnSnapshot>,
    /// The secure view veil made for it (monitor snapshots only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
}

impl SourceSnapshot {
    /// The column named `name` (case-insensitive, as SQL engines match them).
    pub fn column(&self, name: &str) -> Option<&ColumnSnapshot> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The relation's own name for the source called `name`: [`Self::identifier`],
    /// else `name` without its `schema.` prefix (never split at any other dot).
    pub fn relation<'a>(&'a self, name: &'a str) -> &'a str {
        if let Some(identifier) = &self.identifier {
            return identifier;
        }
        self.schema
            .as_deref()
            .and_then(|schema| name.strip_prefix(schema)?.strip_prefix('.'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(name)
    }
}

/// A catalog at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version ([`FORMAT_VERSION`]).
    pub veil_snapshot: u32,
    /// Where it was taken, e.g. `dbt:shop/target` or `duckdb:shop.duckdb`.
    #[serde(default)]
    pub origin: String,
    /// Whether tags were known where it was taken. An engine's
    /// information_schema has no tags, so tag changes are only compared
    /// between two snapshots that both know them.
    #[serde(default)]
    pub tags_known: bool,
    /// Data sources by name.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSnapshot>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot { veil_snapshot: FORMAT_VERSION, origin: String::new(), tags_known: true, sources: BTreeMap::new() }
    }
}

/// One row of an engine's information_schema: a column of a table or view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveColumn {
    /// `table_schema`.
    pub schema: String,
    /// `table_name`.
    pub table: String,
    /// From `table_type` (`BASE TABLE`, `VIEW`).
    pub kind: Kind,
    /// See [`SourceSnapshot::fingerprint`].
    pub fingerprint: Option<String>,
    /// `column_name`.
    pub column: String,
    /// `data_type`.
    pub data_type: String,
}

impl Snapshot {
    /// A snapshot of a veil catalog (e.g. from a catalog YAML file): tags and
    /// types, kinds unknown.
    ///
    /// ```
    /// let catalog = veil_policy::Catalog::from_yaml_str(
    ///     "sources: [{name: main.t, schema: main, columns: [{name: a, type: integer, tags: [Id]}]}]", "c.yaml").unwrap();
    /// let snap = veil_monitor::Snapshot::from_catalog(&catalog, "catalog:c.yaml");
    /// assert_eq!(snap.sources["main.t"].columns[0].data_type.as_deref(), Some("integer"));
    /// ```
    pub fn from_catalog(catalog: &Catalog, origin: &str) -> Snapshot {
        let sources = catalog.sources().map(|s| (s.name.clone(), source_from_catalog(s))).collect();
        Snapshot { origin: origin.to_owned(), sources, ..Snapshot::default() }
    }

    /// A snapshot of dbt's artifacts: tags, kinds from `materialized`, types as
    /// catalog.json spells them, fingerprints from the nodes' checksums.
    pub fn from_dbt(artifacts: &DbtArtifacts, origin: &str) -> Snapshot {
        let mut snapshot = Snapshot::from_catalog(&artifacts.catalog, origin);
        for (name, source) in &mut snapshot.sources {
            let Some(relation) = artifacts.relations.get(name) else { continue };
            source.kind = match (relation.resource_type.as_str(), relation.materialized.as_deref()) {
                ("source", _) => Kind::Unknown,
                (_, Some("view")) => Kind::View,
                ("seed" | "snapshot", _) | (_, Some("table" | "incremental" | "snapshot" | "seed")) => Kind::Table,
                _ => Kind::Unknown,
            };
            source.fingerprint = relation.checksum.as_ref().map(|c| format!("dbt:{c}"));
            for column in &mut source.columns {
                if let Some((_, written)) = relation.column_types.iter().find(|(n, _)| n == &column.name) {
                    column.data_type = Some(written.clone());
                }
            }
            // Tagged in schema.yml but not yet in catalog.json (a model changed
            // since `dbt docs generate`): the tags still count.
            for (column, tags) in &relation.documented_columns {
                if source.column(column).is_none() {
                    source.columns.push(ColumnSnapshot { name: column.clone(), data_type: None, tags: tags.clone() });
                }
            }
        }
        snapshot
    }

    /// A snapshot of an engine's information_schema rows (no tags).
    ///
    /// ```
    /// use veil_monitor::{Kind, LiveColumn, Snapshot};
    /// let row = |c: &str| LiveColumn { schema: "main".into(), table: "t".into(), kind: Kind::Table,
    ///     fingerprint: None, column: c.into(), data_type: "INTEGER".into() };
    /// let snap = Snapshot::from_live([row("a"), row("b")], "duckdb:x.duckdb");
    /// assert_eq!(snap.sources["main.t"].columns.len(), 2);
    /// assert!(!snap.tags_known);
    /// ```
    pub fn from_live(rows: impl IntoIterator<Item = LiveColumn>, origin: &str) -> Snapshot {
        let mut sources: BTreeMap<String, SourceSnapshot> = BTreeMap::new();
        for row in rows {
            // `schema.table`, with a part holding a dot quoted, so `"a.b".c` and
            // `a."b.c"` stay two sources.
            let part = |p: &str| if p.contains('.') { format!("\"{}\"", p.replace('"', "\"\"")) } else { p.to_owned() };
            let name = format!("{}.{}", part(&row.schema), part(&row.table));
            let source = sources.entry(name).or_insert_with(|| SourceSnapshot {
                schema: Some(row.schema.clone()),
                identifier: Some(row.table.clone()),
                kind: row.kind,
                fingerprint: row.fingerprint.clone(),
                ..SourceSnapshot::default()
            });
            source.columns.push(ColumnSnapshot { name: row.column, data_type: Some(row.data_type), tags: Vec::new() });
        }
        Snapshot { origin: origin.to_owned(), tags_known: false, sources, ..Snapshot::default() }
    }

    /// Parse the JSON form.
    ///
    /// # Errors
    /// [`Error::Json`] for malformed input, [`Error::Version`] for a format
    /// this version of veil does not read.
    pub fn from_json(text: &str, origin: &str) -> Result<Snapshot> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::Json { origin: origin.to_owned(), message: e.to_string() })?;
        match value.get("veil_snapshot").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            found => {
                return Err(Error::Version {
                    origin: origin.to_owned(),
                    found: found.map_or_else(|| "(none)".to_string(), |v| v.to_string()),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| Error::Json { origin: origin.to_owned(), message: e.to_string() })
    }

    /// The JSON form (compact).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The JSON form, indented.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Add `tags` (those it lacks) to a column of source `source`, adding the
    /// column (untyped) if the source does not list it; nothing if there is no
    /// such source.
    ///
    /// ```
    /// let mut snap = veil_monitor::Snapshot::default();
    /// snap.sources.insert("main.t".into(), Default::default());
    /// snap.tag_column("main.t", "Email", &["PII".into()]);
    /// snap.tag_column("main.t", "email", &["PII".into(), "Contact".into()]);
    /// assert_eq!(snap.sources["main.t"].columns[0].tags, ["PII", "Contact"]);
    /// ```
    pub fn tag_column(&mut self, source: &str, column: &str, tags: &[String]) {
        let Some(s) = self.sources.get_mut(source) else { return };
        let i = match s.columns.iter().position(|c| c.name.eq_ignore_ascii_case(column)) {
            Some(i) => i,
            None => {
                s.columns.push(ColumnSnapshot { name: column.to_owned(), data_type: None, tags: Vec::new() });
                s.columns.len() - 1
            }
        };
        if let Some(c) = s.columns.get_mut(i) {
            for t in tags {
                if !c.tags.contains(t) {
                    c.tags.push(t.clone());
                }
            }
        }
    }

    /// These sources as veil data sources (to bind them).
    pub fn data_sources<'a>(&'a self, names: impl IntoIterator<Item = &'a str>) -> Vec<DataSource> {
        names
            .into_iter()
            .filter_map(|name| {
                let s = self.sources.get(name)?;
                Some(DataSource {
                    name: name.to_owned(),
                    database: None,
                    schema: s.schema.clone(),
                    identifier: s.relation(name).to_owned(),
                    kind: veil_policy::RelationKind::Table,
                    tags: s.tags.clone(),
                    columns: s
                        .columns
                        .iter()
                        .map(|c| Column {
                            name: c.name.clone(),
                            column_type: c
                                .data_type
                                .as_deref()
                                .map_or(ColumnType::Other { name: "unknown".into() }, ColumnType::parse),
                            tags: c.tags.clone(),
                        })
                        .collect(),
                })
            })
            .collect()
    }
}

fn source_from_catalog(s: &DataSource) -> SourceSnapshot {
    SourceSnapshot {
        schema: s.schema.clone(),
        identifier: Some(s.identifier.clone()),
        kind: Kind::Unknown,
        fingerprint: None,
        tags: s.tags.clone(),
        columns: s
            .columns
            .iter()
            .map(|c| ColumnSnapshot {
                name: c.name.clone(),
                data_type: match &c.column_type {
                    ColumnType::Other { name } if name == "unknown" => None,
                    other => Some(other.to_string()),
                },
                tags: c.tags.clone(),
            })
            .collect(),
        view: None,
    }
}

/// Do two spellings of a column type name the same type?
///
/// Case, spacing and common synonyms (`TEXT`/`VARCHAR`, `INT`/`INTEGER`,
/// `NUMERIC`/`DECIMAL`, …) do not count; widths and precisions do, and so
/// does `INTEGER` against `BIGINT`. An unknown type matches anything.
///
/// ```
/// use veil_monitor::same_type;
/// assert!(same_type(Some("text"), Some("VARCHAR")));
/// assert!(same_type(Some("numeric(10, 2)"), Some("DECIMAL(10,2)")));
/// assert!(!same_type(Some("INTEGER"), Some("BIGINT")));
/// assert!(same_type(None, Some("DATE")));
/// ```
pub fn same_type(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => normal_type(a) == normal_type(b),
        _ => true,
    }
}

fn normal_type(written: &str) -> String {
    let upper: String = written.to_ascii_uppercase().split_whitespace().collect::<Vec<_>>().join(" ");
    let (base, args) = match upper.split_once('(') {
        Some((b, rest)) => (b.trim().to_string(), format!("({})", rest.replace(' ', ""))),
        None => (upper.clone(), String::new()),
    };
    let args = args.replace("))", ")");
    let base = match base.as_str() {
        "TEXT" | "STRING" | "CHARACTER VARYING" | "BPCHAR" | "CHAR" | "NVARCHAR" => "VARCHAR",
        "INT" | "INT4" | "SIGNED" => "INTEGER",
        "INT8" | "LONG" => "BIGINT",
        "INT2" | "SHORT" => "SMALLINT",
        "INT1" => "TINYINT",
        "FLOAT8" | "DOUBLE PRECISION" => "DOUBLE",
        "FLOAT4" | "REAL" => "FLOAT",
        "BOOL" | "LOGICAL" => "BOOLEAN",
        "NUMERIC" | "NUMBER" => "DECIMAL",
        "DATETIME" | "TIMESTAMP WITHOUT TIME ZONE" => "TIMESTAMP",
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => "TIMESTAMP WITH TIME ZONE",
        other => other,
    };
    // veil's own spelling of an unparametrised VARCHAR is `text`; widths are
    // not a type change worth reporting for character data.
    if base == "VARCHAR" {
        return base.to_string();
    }
    format!("{base}{args}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_version_check() {
        let mut snap = Snapshot { origin: "test".into(), ..Snapshot::default() };
        snap.sources.insert(
            "main.t".into(),
            SourceSnapshot {
                schema: Some("main".into()),
                identifier: Some("t".into()),
                kind: Kind::View,
                fingerprint: Some("sql:abc".into()),
                tags: vec!["Sales".into()],
                columns: vec![ColumnSnapshot { name: "a".into(), data_type: Some("INTEGER".into()), tags: vec![] }],
                view: Some("t".into()),
            },
        );
        let back = Snapshot::from_json(&snap.to_json(), "x").unwrap();
        assert_eq!(back, snap);
        let err = Snapshot::from_json(r#"{"veil_snapshot": 9}"#, "old.json").unwrap_err();
        assert!(err.to_string().contains("old.json"), "{err}");
        assert!(Snapshot::from_json("{", "bad.json").is_err());
    }

    #[test]
    fn type_spellings() {
        assert!(same_type(Some("DECIMAL(18,3)"), Some("decimal(18, 3)")));
        assert!(!same_type(Some("DECIMAL(18,3)"), Some("DECIMAL(10,2)")));
        assert!(!same_type(Some("DATE"), Some("VARCHAR")));
        assert!(same_type(Some("timestamp"), Some("TIMESTAMP")));
        assert!(!same_type(Some("TIMESTAMP"), Some("TIMESTAMP WITH TIME ZONE")));
        assert!(same_type(Some("varchar(20)"), Some("TEXT")));
    }

    #[test]
    fn live_rows_group_by_table_in_order() {
        let row = |t: &str, c: &str| LiveColumn {
            schema: "s".into(),
            table: t.into(),
            kind: Kind::Table,
            fingerprint: None,
            column: c.into(),
            data_type: "INTEGER".into(),
        };
        let snap = Snapshot::from_live([row("a", "x"), row("a", "y"), row("b", "z")], "live");
        let names: Vec<&str> = snap.sources["s.a"].columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(snap.data_sources(["s.b"])[0].columns[0].column_type, ColumnType::Integer);
    }
}
