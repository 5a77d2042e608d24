//! Discovery inside `veil monitor`: before a new column leaves the `New`
//! lockdown, its values are sampled and classified, and the tags found are
//! given to it when, and only when, a mask rule of the policies reaches them.
//! A column whose entities no mask rule reaches, or in which nothing was
//! found, stays locked (NULL for everyone) until someone tags it: discovery
//! never opens a column that no policy protects.

use serde::Serialize;
use veil_monitor::Reconciled;
use veil_policy::{Column, DataSource, Engine, NEW_COLUMN_TAG};

use super::{entities_in, sample_duckdb, ColumnFinding, Discovery};
use crate::duckdb::Session;
use crate::Result;

/// What discovery did with the columns a monitoring run found new.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AutoTags {
    /// Tagged and released: a mask rule reaches their tags.
    pub tagged: Vec<ColumnFinding>,
    /// Entities found that no mask rule reaches (with why): still locked.
    pub held: Vec<(ColumnFinding, String)>,
    /// Nothing found (`source.column`): still locked.
    pub nothing_found: Vec<String>,
}

/// Sample and classify the columns `run` locks, and decide which to tag.
/// `engine` builds the policy engine over candidate sources (the run's
/// policies, users and projects).
///
/// # Errors
/// DuckDB failing to sample a source.
pub fn autotag(
    session: &mut Session,
    run: &Reconciled,
    discovery: &Discovery,
    engine: impl Fn(Vec<DataSource>) -> Result<Engine>,
) -> Result<AutoTags> {
    let mut out = AutoTags::default();
    let mut names: Vec<&str> = run.locked_columns.iter().map(|(s, _)| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let sources = run.snapshot.data_sources(names.iter().copied());
    let chosen: Vec<(&DataSource, Vec<&Column>)> = sources
        .iter()
        .map(|s| {
            let locked = |c: &&Column| run.locked_columns.iter().any(|(n, col)| n == &s.name && col == &c.name);
            (s, s.columns.iter().filter(locked).collect())
        })
        .collect();
    let samples = sample_duckdb(session, &chosen, discovery.sample)?;
    for ((source, columns), rows) in chosen.iter().zip(samples) {
        let context: Vec<String> = source.columns.iter().flat_map(|c| entities_in(&c.tags)).collect();
        let found = discovery.classify(source, columns, &rows, &context);
        out.nothing_found.extend(
            columns
                .iter()
                .filter(|c| !found.iter().any(|f| f.column == c.name))
                .map(|c| format!("{}.{}", source.name, c.name)),
        );
        if found.is_empty() {
            continue;
        }
        // The source as it would be bound with the tags found.
        let mut candidate = (*source).clone();
        for column in &mut candidate.columns {
            if let Some(f) = found.iter().find(|f| f.column == column.name) {
                column.tags.retain(|t| t != NEW_COLUMN_TAG);
                column.tags.extend(f.tags.iter().cloned());
            }
        }
        let plan = engine(vec![candidate]).and_then(|e| Ok(e.plan(&source.name)?));
        for f in found {
            let masked = plan.as_ref().map(|p| p.columns.iter().any(|c| c.name == f.column && !c.chain.is_empty()));
            match masked {
                Ok(true) => out.tagged.push(f),
                Ok(false) => {
                    let why = format!("no mask rule reaches {}", f.tags.join(", "));
                    out.held.push((f, why));
                }
                Err(e) => {
                    let why = format!("the policies do not bind with its tags: {e}");
                    out.held.push((f, why));
                }
            }
        }
    }
    Ok(out)
}
