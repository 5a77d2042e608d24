//! `veil apply` to DuckDB: every input checked before anything changes, then
//! one transaction.
//!
//! Before the transaction: the keyring holds the key id the masks name, the
//! database file exists (unless `create`), the extension loads, and every data
//! source bound has its base table or view in the database (a dbt model that was
//! parsed but not built is named). Then the secure views, the facts about
//! readers and the catalog snapshot are written in one DuckDB transaction: a
//! failure or a kill at any point leaves the previous policy whole. The same
//! transaction records who gets what ([`access::ACCESS_TABLE`]), which
//! [`duckdb_dry_run`] compares a new policy with.

use std::collections::{BTreeMap, BTreeSet};

use veil_host::render::base_relation;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_host::{bind, BindOptions, Mode, StatementKind};
use veil_policy::Engine;

use crate::access::{self, AccessMap};
use crate::duckdb::{Access, DuckDb, Query, Session, Step};
use crate::load::Inputs;
use crate::{keyring, monitor, Error, Result};

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Secure views created or replaced.
    pub views: usize,
    /// Statements run in the transaction.
    pub statements: usize,
    /// Sources in the catalog snapshot stored with the views (a dynamic apply of
    /// every source stores one; `veil monitor` starts from it).
    pub snapshot_sources: Option<usize>,
}

/// Apply the bindings of `engine` to the DuckDB database `db`.
///
/// # Errors
/// [`Error::Input`] when the keyring, database, extension or a base relation is
/// missing or malformed (nothing changed); [`Error::Engine`] naming the data
/// source whose statement DuckDB refused (the transaction rolled back).
pub fn duckdb(inputs: &Inputs, engine: &Engine, options: &BindOptions, db: &DuckDb, create: bool) -> Result<Applied> {
    keyring::read(&db.keyring, &options.key_id)?;
    let mut session = db.open(Access::Write { create })?;
    let (steps, mut applied, _) = prepare(inputs, engine, options, db, &mut session)?;
    session.transaction(&steps)?;
    applied.statements = steps.len();
    Ok(applied)
}

/// What `veil apply` would do, with nothing changed: the statements of its
/// transaction, and how access differs from what the last apply recorded.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DryRun {
    /// The statements the apply would run, in order.
    pub statements: Vec<String>,
    /// Secure views it would create or replace.
    pub views: usize,
    /// Whether the database holds a record of the last apply to compare with
    /// (without one, every reader's access counts as new).
    pub recorded: bool,
    /// Readers gaining or losing a source, columns shown differently, row
    /// filters changed.
    pub changes: Vec<access::Change>,
}

/// Everything `veil apply` would check and write, read-only: nothing changes.
///
/// # Errors
/// As [`duckdb`], before its transaction.
pub fn duckdb_dry_run(inputs: &Inputs, engine: &Engine, options: &BindOptions, db: &DuckDb) -> Result<DryRun> {
    keyring::read(&db.keyring, &options.key_id)?;
    let mut session = db.open(Access::Read)?;
    let (steps, applied, record) = prepare(inputs, engine, options, db, &mut session)?;
    let new = access::access_map(engine, &options.sources)?;
    let changes = match (&record, &options.mode) {
        (_, Mode::Reader { .. }) => Vec::new(),
        (Some(old), Mode::Dynamic) => {
            let old = if options.sources.is_empty() {
                old.clone()
            } else {
                old.iter().filter(|(s, _)| options.sources.contains(s)).map(|(s, r)| (s.clone(), r.clone())).collect()
            };
            access::diff(&old, &new)
        }
        (None, Mode::Dynamic) => access::diff(&AccessMap::new(), &new),
    };
    Ok(DryRun {
        statements: steps.into_iter().map(|s| s.sql).collect(),
        views: applied.views,
        recorded: record.is_some(),
        changes,
    })
}

/// The access recorded by the last apply into `schema`, if any.
fn recorded(session: &mut Session, schema: &str) -> Result<Option<AccessMap>> {
    let target = DuckDbTarget { extension: None };
    let sql = format!("SELECT access FROM {} WHERE secure_schema = {}", access::ACCESS_TABLE, target.literal(schema));
    let answers = session.query(&[Query { setup: Vec::new(), sql }])?;
    // No table: nothing recorded yet (a first apply, or one by an older veil).
    let Some(answer) = answers.into_iter().next().filter(|a| a.ok) else { return Ok(None) };
    let Some(serde_json::Value::String(text)) = answer.rows.first().and_then(|r| r.first()) else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|e| {
        Error::Input(format!(
            "the access recorded in {} is not readable ({e}); a full `veil apply` records it again",
            access::ACCESS_TABLE
        ))
    })
}

/// The statements recording `map` as the access of `schema`.
fn record_statements(map: &AccessMap, schema: &str) -> Vec<String> {
    let target = DuckDbTarget { extension: None };
    let json = serde_json::to_string(map).unwrap_or_default();
    let schema = target.literal(schema);
    vec![
        "CREATE SCHEMA IF NOT EXISTS veil;".into(),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (secure_schema VARCHAR PRIMARY KEY, access VARCHAR NOT NULL);",
            access::ACCESS_TABLE
        ),
        format!("DELETE FROM {} WHERE secure_schema = {schema};", access::ACCESS_TABLE),
        format!("INSERT INTO {} VALUES ({schema}, {});", access::ACCESS_TABLE, target.literal(&json)),
    ]
}

/// Check every input against the database and build the apply's statements;
/// also what access the database recorded last.
fn prepare(
    inputs: &Inputs,
    engine: &Engine,
    options: &BindOptions,
    db: &DuckDb,
    session: &mut Session,
) -> Result<(Vec<Step>, Applied, Option<AccessMap>)> {
    let target = DuckDbTarget { extension: None };
    let bindings = bind(engine, &target, options)?;
    let probed: Vec<&str> = bindings
        .statements
        .iter()
        .filter(|s| s.kind == StatementKind::View && s.select.is_some())
        .filter_map(|s| s.source.as_deref())
        .collect();
    let probes: Vec<Query> = probed
        .iter()
        .filter_map(|name| engine.catalog().source(name))
        .map(|source| Query {
            setup: Vec::new(),
            sql: format!("SELECT * FROM {} LIMIT 0", base_relation(source, &target)),
        })
        .collect();
    let missing: Vec<String> = probed
        .iter()
        .zip(session.query(&probes)?)
        .filter(|(_, answer)| !answer.ok)
        .map(|(name, answer)| format!("  `{name}`: {}", first_line(answer.error.as_deref().unwrap_or_default())))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Input(format!(
            "{} data source(s) have no table or view in `{}`:\n{}\nbuild them first (a dbt model that was parsed \
             but not built: `dbt run` or `dbt build`), or leave them out with --source; nothing was applied",
            missing.len(),
            db.database.display(),
            missing.join("\n")
        )));
    }

    let mut steps: Vec<Step> = bindings
        .statements
        .iter()
        .filter(|s| s.kind != StatementKind::Comment)
        .map(|s| Step {
            sql: s.sql.clone(),
            about: match (s.kind, &s.source) {
                (StatementKind::View, Some(source)) => Some(format!("the secure view of data source `{source}`")),
                (StatementKind::Facts, _) => Some("the facts about readers (schema veil)".into()),
                _ => None,
            },
        })
        .collect();
    if options.sources.is_empty() {
        // Views an earlier apply made that this policy no longer has (a source
        // renamed, dropped, or now named apart) would keep the old policy.
        let stale = stale_views(session, &options.secure_schema, &bindings.views)?;
        steps.extend(stale.into_iter().map(|sql| Step { sql, about: Some("a view no source has now".into()) }));
    }
    let mut applied = Applied { views: bindings.views.len(), ..Applied::default() };
    if matches!(options.mode, Mode::Dynamic) && options.sources.is_empty() {
        let (store, sources) = monitor::baseline(inputs, session, &options.secure_schema, &bindings.views)?;
        let about = format!("the catalog snapshot ({})", monitor::SNAPSHOT_TABLE);
        steps.extend(store.into_iter().map(|sql| Step { sql, about: Some(about.clone()) }));
        applied.snapshot_sources = Some(sources);
    }
    let record = recorded(session, &options.secure_schema)?;
    if matches!(options.mode, Mode::Dynamic) {
        let map =
            access::merged(record.clone(), access::access_map(engine, &options.sources)?, !options.sources.is_empty());
        let about = format!("the record of who gets what ({})", access::ACCESS_TABLE);
        steps.extend(
            record_statements(&map, &options.secure_schema)
                .into_iter()
                .map(|sql| Step { sql, about: Some(about.clone()) }),
        );
    }
    Ok((steps, applied, record))
}

/// `DROP VIEW` for the views in `schema` that are not among `views`.
fn stale_views(session: &mut Session, schema: &str, views: &BTreeMap<String, String>) -> Result<Vec<String>> {
    let target = DuckDbTarget { extension: None };
    let sql =
        format!("SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = {}", target.literal(schema));
    let current: BTreeSet<String> = views.values().map(|v| v.to_lowercase()).collect();
    let mut out = Vec::new();
    for answer in session.query(&[Query { setup: Vec::new(), sql }])?.into_iter().filter(|a| a.ok) {
        for row in answer.rows {
            let Some(serde_json::Value::String(view)) = row.first() else { continue };
            if !current.contains(&view.to_lowercase()) {
                out.push(format!("DROP VIEW IF EXISTS {}.{};", target.quote_ident(schema), target.quote_ident(view)));
            }
        }
    }
    Ok(out)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
