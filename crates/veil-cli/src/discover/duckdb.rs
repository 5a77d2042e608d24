//! Sampling in DuckDB: a repeatable reservoir sample of at most N rows per
//! source, every column cast to text inside the engine.

use serde_json::Value;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_policy::{Catalog, Column, DataSource};

use super::{selected, Discovery, Report};
use crate::duckdb::{Query, Session};
use crate::{Error, Result};

/// The sampling query for `columns` of one source: each as text, at most `sample` rows.
fn sample_query(source: &DataSource, columns: &[&Column], sample: usize) -> String {
    let t = DuckDbTarget::default();
    let columns: Vec<String> = columns
        .iter()
        .map(|c| format!("TRY_CAST({} AS VARCHAR) AS {}", t.quote_ident(&c.name), t.quote_ident(&c.name)))
        .collect();
    format!(
        "SELECT {} FROM {} USING SAMPLE reservoir({sample} ROWS) REPEATABLE (42)",
        columns.join(", "),
        veil_host::render::base_relation(source, &t)
    )
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Sample `columns` of each source (at most `sample` rows each): rows of text
/// values in the order of the columns, per source.
///
/// # Errors
/// [`Error::Engine`] naming a source DuckDB cannot read.
pub fn sample_duckdb(
    session: &mut Session,
    sources: &[(&DataSource, Vec<&Column>)],
    sample: usize,
) -> Result<Vec<Vec<Vec<Option<String>>>>> {
    let queries: Vec<Query> =
        sources.iter().map(|(s, columns)| Query { setup: Vec::new(), sql: sample_query(s, columns, sample) }).collect();
    let answers = session.query(&queries)?;
    if answers.len() != sources.len() {
        return Err(Error::Engine("DuckDB gave fewer answers than queries".into()));
    }
    sources
        .iter()
        .zip(answers)
        .map(|((source, _), answer)| {
            if !answer.ok {
                return Err(Error::Engine(format!(
                    "cannot sample `{}`: {}",
                    source.name,
                    answer.error.unwrap_or_default()
                )));
            }
            Ok(answer.rows.iter().map(|r| r.iter().map(text).collect()).collect())
        })
        .collect()
}

/// Classify every column of `sources` (every source when empty) from rows
/// sampled in DuckDB.
///
/// # Errors
/// [`Error::Usage`] for a source the catalog lacks; [`Error::Engine`] when
/// DuckDB cannot be reached or a source cannot be read (naming it).
pub fn discover_duckdb(session: &mut Session, catalog: &Catalog, sources: &[String], d: &Discovery) -> Result<Report> {
    let chosen: Vec<(&DataSource, Vec<&Column>)> =
        selected(catalog, sources)?.into_iter().map(|s| (s, s.columns.iter().collect())).collect();
    let samples = sample_duckdb(session, &chosen, d.sample)?;
    let mut report = Report::default();
    for ((source, columns), rows) in chosen.iter().zip(samples) {
        report.add(columns.len(), rows.len(), d.classify(source, columns, &rows, &[]));
    }
    Ok(report)
}
