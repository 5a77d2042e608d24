//! `veil discover`: sensitive data discovery inside the engine. Each data
//! source is sampled where it lives (DuckDB's reservoir sample, PostgreSQL's
//! `TABLESAMPLE`; at most `sample` rows per source, repeatable), each column
//! classified by veil-core (values and name, built-in and user-defined
//! entities), and the entities found turned into tags by a classification
//! framework. The result is a tag file that every command reads beside dbt's
//! tags (`--tags`), with the evidence kept for review, and optionally a patch
//! for the dbt project's properties files (`--write-dbt`).

pub mod autotag;
pub mod dbt;
mod duckdb;
mod postgres;

use std::fmt::Write as _;

use serde::Serialize;
use veil_core::classify::{Classifier, CustomEntity, Finding, ValueKind};
use veil_policy::{Catalog, Column, ColumnType, DataSource, Framework, ENTITY_TAG};

use crate::{Error, Result};

pub use self::duckdb::{discover_duckdb, sample_duckdb};
pub use self::postgres::{discover_postgres, sample_query as postgres_sample_query, Estimate};

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

impl Evidence {
    /// In words: `EmailAddress (confidence 0.95: 100% of 8 sampled values match)`.
    pub fn describe(&self) -> String {
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

/// What discovery found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Sources sampled.
    pub sources: usize,
    /// Columns classified.
    pub columns: usize,
    /// Rows sampled, most from one source (never more than asked).
    pub most_rows: usize,
    /// Columns holding at least one entity.
    pub findings: Vec<ColumnFinding>,
}

/// How to discover: the classifier (built-in and user-defined entities), the
/// framework deriving categories and sensitivity, the rows to sample per source.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// Classifies columns.
    pub classifier: Classifier,
    /// Entities to categories and sensitivity.
    pub framework: Framework,
    /// Rows sampled per data source, at most (at least 1).
    pub sample: usize,
}

/// The current year (UTC), bounding plausible birth dates.
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    1970 + i32::try_from(secs / 31_556_952).unwrap_or(56)
}

/// How a column's type bears on discovery.
pub fn kind(t: &ColumnType) -> ValueKind {
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

/// The entities named by `Discovered.Entity.*` tags.
pub fn entities_in(tags: &[String]) -> impl Iterator<Item = String> + '_ {
    let prefix = format!("{ENTITY_TAG}.");
    tags.iter().filter_map(move |t| t.strip_prefix(&prefix).map(str::to_owned))
}

impl Discovery {
    /// Discovery with veil's built-in entities, `custom` ones beside them, and `framework`.
    ///
    /// # Errors
    /// [`Error::Usage`] when `sample` is 0.
    pub fn new(framework: Framework, custom: Vec<CustomEntity>, sample: usize) -> Result<Discovery> {
        if sample == 0 {
            return Err(Error::Usage("--sample must be at least 1".into()));
        }
        Ok(Discovery { classifier: Classifier::new(this_year()).with_custom(custom), framework, sample })
    }

    /// Classify `columns` of `source` from sampled `rows` (values as text, in
    /// the order of `columns`). `context` holds the entities other columns of
    /// the table are known to hold (the framework's table rules see them too).
    pub fn classify(
        &self,
        source: &DataSource,
        columns: &[&Column],
        rows: &[Vec<Option<String>>],
        context: &[String],
    ) -> Vec<ColumnFinding> {
        let per_column: Vec<(&Column, Vec<Finding>)> = columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let values: Vec<Option<&str>> = rows.iter().map(|r| r.get(i).and_then(|v| v.as_deref())).collect();
                (*column, self.classifier.classify_column(&column.name, kind(&column.column_type), &values))
            })
            .collect();
        let mut table_entities: Vec<String> = context.to_vec();
        table_entities.extend(per_column.iter().flat_map(|(_, f)| f.iter().map(|f| f.entity.clone())));
        per_column
            .into_iter()
            .filter(|(_, found)| !found.is_empty())
            .map(|(column, found)| {
                let entities: Vec<String> = found.iter().map(|f| f.entity.clone()).collect();
                ColumnFinding {
                    source: source.name.clone(),
                    column: column.name.clone(),
                    tags: self.framework.tags(&entities, &table_entities),
                    entities: found.iter().map(Evidence::from).collect(),
                }
            })
            .collect()
    }
}

/// The sources to sample: those named, else every source with columns.
///
/// # Errors
/// [`Error::Usage`] for a name the catalog lacks.
pub fn selected<'a>(catalog: &'a Catalog, sources: &[String]) -> Result<Vec<&'a DataSource>> {
    if sources.is_empty() {
        return Ok(catalog.sources().filter(|s| !s.columns.is_empty()).collect());
    }
    sources
        .iter()
        .map(|n| catalog.source(n).ok_or_else(|| Error::Usage(format!("no data source `{n}` in the catalog"))))
        .collect()
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Report {
    /// Add one sampled source's findings.
    fn add(&mut self, columns: usize, rows: usize, findings: Vec<ColumnFinding>) {
        self.sources += 1;
        self.columns += columns;
        self.most_rows = self.most_rows.max(rows);
        self.findings.extend(findings);
    }

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
            "sampled {} data source(s), {} column(s), at most {} row(s) from one source; {} column(s) hold sensitive data\n",
            self.sources,
            self.columns,
            self.most_rows,
            self.findings.len()
        );
        for f in &self.findings {
            let evidence: Vec<String> = f.entities.iter().map(Evidence::describe).collect();
            let _ = writeln!(out, "  {}.{}: {}", f.source, f.column, evidence.join("; "));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn table_context_reaches_columns_found_earlier() {
        let d = Discovery::new(Framework::default_framework(), Vec::new(), 10).unwrap();
        let catalog = Catalog::from_yaml_str(
            "sources: [{name: t, columns: [{name: birth_date, type: date}, {name: note, type: text}]}]",
            "c.yaml",
        )
        .unwrap();
        let source = catalog.source("t").unwrap();
        let columns: Vec<&Column> = source.columns.iter().take(1).collect();
        let rows: Vec<Vec<Option<String>>> =
            ["1980-01-02", "1990-03-04", "2001-05-06"].iter().map(|v| vec![Some((*v).to_owned())]).collect();
        // A person's name elsewhere in the table makes a date of birth identifying.
        let alone = d.classify(source, &columns, &rows, &[]);
        let beside = d.classify(source, &columns, &rows, &["PersonName".into()]);
        assert!(!alone[0].tags.contains(&"Discovered.Category.PII.Identifying".to_string()), "{alone:?}");
        assert!(beside[0].tags.contains(&"Discovered.Category.PII.Identifying".to_string()), "{beside:?}");
        assert!(beside[0].tags.contains(&"Discovered.Sensitivity.Restricted".to_string()));
        assert!(Discovery::new(Framework::default_framework(), Vec::new(), 0).is_err());
    }
}
