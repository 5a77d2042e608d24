//! `veil discover`: sensitive data discovery inside the engine. Each data
//! source is sampled where it lives (DuckDB's reservoir sample, at most
//! `sample` rows per source, repeatable), each column classified by veil-core
//! (values and name), and the entities found turned into tags by a
//! classification framework. The result is a tag file that every command reads
//! beside dbt's tags (`--tags`), with the evidence kept for review.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use veil_core::classify::{classify_column, Finding, Thresholds, ValueKind};
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_policy::{Catalog, ColumnType, DataSource, Framework};

use crate::duckdb::{DuckDb, Query};
use crate::{Error, Result};

/// One column's discovery.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnFinding {
    /// Data source.
    pub source: String,
    /// Column.
    pub column: String,
    /// Entities found, highest confidence first, with their evidence.
    pub entities: Vec<Evidence>,
    /// The tags the framework gives the column.
    pub tags: Vec<String>,
}

/// Why an entity was found.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    /// Entity name (`EmailAddress`).
    pub entity: String,
    /// 0–1.
    pub confidence: f64,
    /// Share of the sampled non-NULL values that match.
    pub share: f64,
    /// Whether the column's name hints at it.
    pub name_hint: bool,
    /// Non-NULL values sampled.
    pub sampled: usize,
}

impl From<&Finding> for Evidence {
    fn from(f: &Finding) -> Self {
        Evidence {
            entity: f.entity.clone(),
            confidence: f.confidence,
            share: f.share,
            name_hint: f.name_hint,
            sampled: f.sampled,
        }
    }
}

/// What discovery found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Sources sampled.
    pub sources: usize,
    /// Columns classified.
    pub columns: usize,
    /// Columns holding at least one entity.
    pub findings: Vec<ColumnFinding>,
}

fn kind(t: &ColumnType) -> ValueKind {
    match t {
        ColumnType::Text => ValueKind::Text,
        ColumnType::Integer | ColumnType::Float | ColumnType::Decimal { .. } => ValueKind::Number,
        ColumnType::Date | ColumnType::Timestamp => ValueKind::Temporal,
        // A column a catalog left untyped is read as text; binary, nested and
        // boolean columns are not classified by value.
        ColumnType::Other { name } if name == "unknown" => ValueKind::Text,
        ColumnType::Boolean | ColumnType::Other { .. } => ValueKind::Other,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The current year (UTC), bounding plausible birth dates.
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    1970 + i32::try_from(secs / 31_556_952).unwrap_or(56)
}

/// The sampling query for one source: every column as text, at most `sample` rows.
fn sample_query(source: &DataSource, sample: usize) -> String {
    let t = DuckDbTarget::default();
    let columns: Vec<String> = source
        .columns
        .iter()
        .map(|c| format!("TRY_CAST({} AS VARCHAR) AS {}", t.quote_ident(&c.name), t.quote_ident(&c.name)))
        .collect();
    format!(
        "SELECT {} FROM {} USING SAMPLE reservoir({sample} ROWS) REPEATABLE (42)",
        columns.join(", "),
        veil_host::render::base_relation(source, &t)
    )
}

/// Classify every column of `sources` from the rows sampled in DuckDB.
///
/// # Errors
/// [`Error::Engine`] when DuckDB cannot be reached or a source cannot be read
/// (naming it).
pub fn discover_duckdb(
    db: &DuckDb,
    catalog: &Catalog,
    sources: &[String],
    sample: usize,
    framework: &Framework,
) -> Result<Report> {
    let selected: Vec<&DataSource> = if sources.is_empty() {
        catalog.sources().filter(|s| !s.columns.is_empty()).collect()
    } else {
        sources
            .iter()
            .map(|n| catalog.source(n).ok_or_else(|| Error::Usage(format!("no data source `{n}` in the catalog"))))
            .collect::<Result<_>>()?
    };
    let queries: Vec<Query> =
        selected.iter().map(|s| Query { setup: Vec::new(), sql: sample_query(s, sample) }).collect();
    let answers = db.query(&queries)?;
    let thresholds = Thresholds::default();
    let year = this_year();
    let mut report = Report { sources: selected.len(), ..Report::default() };
    for (source, answer) in selected.iter().zip(answers) {
        if !answer.ok {
            return Err(Error::Engine(format!(
                "cannot sample `{}`: {}",
                source.name,
                answer.error.unwrap_or_default()
            )));
        }
        let mut per_column = Vec::new();
        for (i, column) in source.columns.iter().enumerate() {
            let values: Vec<Option<String>> = answer.rows.iter().map(|r| r.get(i).and_then(text)).collect();
            let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
            let found = classify_column(&column.name, kind(&column.column_type), &values, year, &thresholds);
            report.columns += 1;
            per_column.push((column, found));
        }
        let table_entities: Vec<String> =
            per_column.iter().flat_map(|(_, f)| f.iter().map(|f| f.entity.clone())).collect();
        for (column, found) in per_column {
            if found.is_empty() {
                continue;
            }
            let entities: Vec<String> = found.iter().map(|f| f.entity.clone()).collect();
            report.findings.push(ColumnFinding {
                source: source.name.clone(),
                column: column.name.clone(),
                tags: framework.tags(&entities, &table_entities),
                entities: found.iter().map(Evidence::from).collect(),
            });
        }
    }
    Ok(report)
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Report {
    /// The tag file (YAML): one entry per source and column found, with evidence.
    pub fn to_tag_file(&self, origin: &str) -> String {
        let mut out = format!(
            "# Written by `veil discover` from {origin}: entity tags found by sampling, and the\n\
             # categories and sensitivity the framework derives. Review it, then pass it to\n\
             # veil with --tags (beside dbt's own tags).\nsources:\n"
        );
        let mut last: Option<&str> = None;
        for f in &self.findings {
            if last != Some(f.source.as_str()) {
                let _ = writeln!(out, "  - name: {}\n    columns:", quoted(&f.source));
                last = Some(&f.source);
            }
            let tags: Vec<String> = f.tags.iter().map(|t| quoted(t)).collect();
            let evidence: Vec<String> = f.entities.iter().map(Evidence::describe).collect();
            let _ = writeln!(
                out,
                "      - name: {}\n        tags: [{}]\n        evidence: {}",
                quoted(&f.column),
                tags.join(", "),
                quoted(&evidence.join("; "))
            );
        }
        if self.findings.is_empty() {
            out = out.replace("sources:\n", "sources: []\n");
        }
        out
    }

    /// A readable table of what was found.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "sampled {} data source(s), {} column(s); {} column(s) hold sensitive data\n",
            self.sources,
            self.columns,
            self.findings.len()
        );
        for f in &self.findings {
            let evidence: Vec<String> = f.entities.iter().map(Evidence::describe).collect();
            let _ = writeln!(out, "  {}.{}: {}", f.source, f.column, evidence.join("; "));
        }
        out
    }
}

impl Evidence {
    fn describe(&self) -> String {
        format!(
            "{} (confidence {:.2}: {:.0}% of {} sampled values match{})",
            self.entity,
            self.confidence,
            self.share * 100.0,
            self.sampled,
            if self.name_hint { ", name hint" } else { "" }
        )
    }
}
