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
use std::path::{Path, PathBuf};

use veil_host::render::base_relation;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_host::{bind, BindOptions, Mode, StatementKind};
use veil_policy::Engine;

use crate::access::{self, AccessMap};
use crate::duckdb::{Access, DuckDb, Query, Session, Step};
use crate::load::Inputs;
use crate::{keyring, monitor, Error, Result};

/// The table recording each secure view veil made: the statement that made it
/// (its SHA-256) and DuckDB's fingerprint of the view it stored (md5 of its SQL).
/// An apply skips a view whose statement and stored view both still match.
pub const APPLIED_TABLE: &str = "veil.applied_views";

/// Statements sent to the runner per request inside the transaction (progress
/// is reported between them).
const STATEMENTS_PER_REQUEST: usize = 500;

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Secure views the bindings have.
    pub views: usize,
    /// Of those, views created or replaced (the others were already as bound).
    pub changed_views: usize,
    /// Statements run in the transaction.
    pub statements: usize,
    /// Sources in the catalog snapshot stored with the views (a dynamic apply of
    /// every source stores one; `veil monitor` starts from it).
    pub snapshot_sources: Option<usize>,
    /// Whether that snapshot was written (it is left alone when the stored one is the same).
    pub snapshot_written: bool,
}

/// The table recording the facts about readers the last apply wrote: the SHA-256
/// of their statements and DuckDB's digest of the tables then ([`facts_digest`]).
/// An apply writes the facts again only when either differs.
pub const APPLIED_FACTS_TABLE: &str = "veil.applied_facts";

/// What the database holds, read in one round trip before anything changes.
struct Present {
    /// Tables (not views) outside veil's schemas and the secure one, as lowercase (schema, name).
    tables: BTreeSet<(String, String)>,
    /// Tables and views outside veil's schemas and the secure one, as lowercase
    /// (schema, name): their column names and types in order.
    columns: BTreeMap<(String, String), String>,
    /// Those relations' columns, as `veil monitor` reads them (the snapshot's input).
    live: Vec<veil_monitor::LiveColumn>,
    /// Views in the secure schema: name -> md5 of the SQL DuckDB stored.
    views: BTreeMap<String, String>,
    /// What [`APPLIED_TABLE`] says of those views: name -> (statement sha, engine md5).
    applied: BTreeMap<String, (String, String)>,
    /// The access the last apply into this schema recorded ([`access::ACCESS_TABLE`]),
    /// as JSON text; none before a first apply.
    access: Option<String>,
    /// The SHA-256 (hex) of the stored catalog snapshot, if there is one.
    snapshot_sha: Option<String>,
    /// What [`APPLIED_FACTS_TABLE`] recorded: (statements sha, digest then).
    facts_applied: Option<(String, String)>,
    /// [`facts_digest`] now (none when a facts table is missing).
    facts_now: Option<String>,
    /// Relations in veil's facts schema, as lowercase name -> whether it is a view.
    facts_kinds: BTreeMap<String, bool>,
    /// Tables (not views) in the secure schema, lowercase.
    secure_tables: BTreeSet<String>,
}

fn text_at(row: &[serde_json::Value], i: usize) -> String {
    match row.get(i) {
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The tables of facts about readers veil writes in DuckDB: the facts tables and
/// the one the reader view reads.
fn facts_tables() -> impl Iterator<Item = &'static str> {
    veil_host::render::FACTS_TABLES.into_iter().chain([veil_host::targets::DUCKDB_READER_FACTS])
}

/// DuckDB's digest of the facts tables (those the reader view reads included):
/// md5 over their definitions, the reader view's, and every row as JSON, sorted.
fn facts_digest() -> String {
    let t = DuckDbTarget { extension: None };
    let tables: Vec<&str> = facts_tables().collect();
    let rows: Vec<String> = tables
        .iter()
        .map(|table| {
            format!(
                "SELECT {} || ':' || CAST(to_json(x) AS VARCHAR) AS r FROM {} x",
                t.literal(table),
                t.facts_table(table)
            )
        })
        .collect();
    let names: Vec<String> = tables.iter().map(|table| t.literal(table)).collect();
    // The tables' own definitions too, and the reader view's: a facts table
    // replaced by a view (which could answer differently per reader), altered, or
    // the reader view edited or dropped is written again.
    let schema = t.literal(veil_host::render::FACTS_SCHEMA);
    format!(
        "SELECT md5(coalesce((SELECT string_agg(name || ' ' || sql, chr(10) ORDER BY name) FROM (\
           SELECT 'table ' || table_name AS name, sql FROM duckdb_tables() \
           WHERE database_name = current_database() AND schema_name = {schema} AND table_name IN ({}) \
           UNION ALL SELECT 'view ' || view_name, sql FROM duckdb_views() \
           WHERE database_name = current_database() AND schema_name = {schema} AND view_name = {})), '') \
         || chr(10) || coalesce((SELECT string_agg(r, chr(10) ORDER BY r) FROM ({})), ''))",
        names.join(", "),
        t.literal(veil_host::targets::DUCKDB_READER_VIEW),
        rows.join(" UNION ALL ")
    )
}

fn present(session: &mut Session, schema: &str) -> Result<Present> {
    let t = DuckDbTarget { extension: None };
    let schema_literal = t.literal(schema);
    let query = |sql: String| Query { setup: Vec::new(), sql };
    let answers = session.query(&[
        query(monitor::live_query(&[schema])),
        query(format!(
            "SELECT view_name, md5(sql) FROM duckdb_views() \
             WHERE NOT internal AND database_name = current_database() AND schema_name = {schema_literal}"
        )),
        query(format!("SELECT view_name, statement, engine FROM {APPLIED_TABLE} WHERE schema_name = {schema_literal}")),
        query(format!("SELECT access FROM {} WHERE secure_schema = {schema_literal}", access::ACCESS_TABLE)),
        query(format!("SELECT sha256(snapshot) FROM {}", monitor::SNAPSHOT_TABLE)),
        query(format!("SELECT statement, engine FROM {APPLIED_FACTS_TABLE}")),
        query(facts_digest()),
        query(format!(
            "SELECT lower(table_name), false FROM duckdb_tables() WHERE database_name = current_database() \
             AND schema_name = {facts} UNION ALL SELECT lower(view_name), true FROM duckdb_views() \
             WHERE NOT internal AND database_name = current_database() AND schema_name = {facts}",
            facts = t.literal(veil_host::render::FACTS_SCHEMA)
        )),
        query(format!(
            "SELECT lower(table_name) FROM duckdb_tables() WHERE database_name = current_database() \
             AND schema_name = {schema_literal}"
        )),
    ])?;
    let rows = |i: usize| answers.get(i).filter(|a| a.ok).map(|a| a.rows.as_slice()).unwrap_or_default();
    let live_answer = answers.first().ok_or_else(|| Error::Engine("DuckDB gave no answer".into()))?;
    if !live_answer.ok {
        return Err(Error::Engine(format!("reading the catalog: {}", live_answer.error.clone().unwrap_or_default())));
    }
    let live = monitor::live_rows(&live_answer.rows);
    let mut tables = BTreeSet::new();
    let mut columns: BTreeMap<(String, String), String> = BTreeMap::new();
    for c in &live {
        let key = (c.schema.to_lowercase(), c.table.to_lowercase());
        if c.kind == veil_monitor::Kind::Table {
            tables.insert(key.clone());
        }
        let text = columns.entry(key).or_default();
        if !text.is_empty() {
            text.push_str(", ");
        }
        text.push_str(&format!("{} {}", c.column, c.data_type));
    }
    Ok(Present {
        tables,
        columns,
        live,
        views: rows(1).iter().map(|r| (text_at(r, 0), text_at(r, 1))).collect(),
        applied: rows(2).iter().map(|r| (text_at(r, 0), (text_at(r, 1), text_at(r, 2)))).collect(),
        access: rows(3).first().map(|r| text_at(r, 0)),
        snapshot_sha: rows(4).first().map(|r| text_at(r, 0)),
        facts_applied: rows(5).first().map(|r| (text_at(r, 0), text_at(r, 1))),
        facts_now: rows(6).first().map(|r| text_at(r, 0)),
        facts_kinds: rows(7)
            .iter()
            .map(|r| (text_at(r, 0), r.get(1).and_then(serde_json::Value::as_bool) == Some(true)))
            .collect(),
        secure_tables: rows(8).iter().map(|r| text_at(r, 0)).collect(),
    })
}

/// Statements dropping what holds a facts relation's name as the other kind
/// than veil makes it (`kinds`: lowercase name -> is a view).
fn facts_in_the_way(kinds: &BTreeMap<String, bool>) -> Vec<Step> {
    let t = DuckDbTarget { extension: None };
    let wanted = facts_tables().map(|name| (name, false)).chain([(veil_host::targets::DUCKDB_READER_VIEW, true)]);
    wanted
        .filter(|(name, view)| kinds.get(*name).is_some_and(|held| held != view))
        .map(|(name, view)| Step {
            sql: format!("DROP {} {};", if view { "TABLE" } else { "VIEW" }, t.facts_table(name)),
            about: Some(format!("`{}` in the way of the facts about readers", t.facts_table(name))),
        })
        .collect()
}

/// The SHA-256 of a view's statement and of its base relation's columns (a
/// view over a relation whose columns changed is made again, so DuckDB binds
/// it to the new types), hex.
fn statement_sha(sql: &str, base_columns: Option<&String>) -> String {
    sha_hex(&[sql.as_bytes(), &[0], base_columns.map(String::as_bytes).unwrap_or_default()])
}

/// The SHA-256 of the concatenated `parts`, lowercase hex (as DuckDB's `sha256()` writes it).
fn sha_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A source's base relation as the catalog query names it: lowercase (schema, name).
fn relation_key(source: &veil_policy::DataSource) -> (String, String) {
    (source.schema.as_deref().unwrap_or("main").to_lowercase(), source.identifier.to_lowercase())
}

/// Apply the bindings of `engine` to the DuckDB database `db`, reporting
/// `(done, total)` statements to `progress` while the transaction runs.
///
/// Views already as bound (same statement as the last apply recorded, and the
/// view DuckDB holds unchanged since) are left alone, so a re-apply costs what
/// changed; everything else is checked and written as on a first apply.
///
/// # Errors
/// [`Error::Input`] when the keyring, database, extension or a base relation is
/// missing or malformed (nothing changed); [`Error::Engine`] naming the data
/// source whose statement DuckDB refused (the transaction rolled back).
pub fn duckdb(
    inputs: &Inputs,
    engine: &Engine,
    options: &BindOptions,
    db: &DuckDb,
    create: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Applied> {
    keyring::read(&db.keyring, &options.key_id)?;
    // The components the new views call must load in this session (DuckDB binds
    // a view when it is made) and the earlier ones until the old views are gone.
    let components = components(engine)?;
    let file = crate::duckdb::components_file(&db.database);
    let earlier = read_components(&file)?;
    let mut during = earlier.clone();
    during.extend(components.clone());
    if during != earlier {
        write_components(&file, &during)?;
    }
    let mut session = db.open(Access::Write { create })?;
    let Prepared { steps, mut applied, .. } = prepare(inputs, engine, options, db, &mut session)?;
    session.transaction_in_parts(&steps, STATEMENTS_PER_REQUEST, progress)?;
    applied.statements = steps.len();
    drop(session);
    // A full apply dropped every view it did not make: only its components remain called.
    if options.sources.is_empty() && during != components {
        if components.is_empty() {
            std::fs::remove_file(&file)
                .map_err(|e| Error::Input(format!("applied, but cannot remove `{}`: {e}", file.display())))?;
        } else {
            write_components(&file, &components)?;
        }
    }
    Ok(applied)
}

/// What `veil apply` would do, with nothing changed: the statements of its
/// transaction, and how access differs from what the last apply recorded.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DryRun {
    /// The statements the apply would run, in order.
    pub statements: Vec<String>,
    /// Secure views it would create or replace (views already as bound are left alone).
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
    let Prepared { steps, applied, record, access: new } = prepare(inputs, engine, options, db, &mut session)?;
    let changes = match (&record, &new) {
        (_, None) => Vec::new(),
        (Some(old), Some(new)) => {
            let old = if options.sources.is_empty() { old.clone() } else { old.only(&options.sources) };
            access::diff(&old, new)
        }
        (None, Some(new)) => access::diff(&AccessMap::default(), new),
    };
    Ok(DryRun {
        statements: steps.into_iter().map(|s| s.sql).collect(),
        views: applied.changed_views,
        recorded: record.is_some(),
        changes,
    })
}

/// The access the last apply into the secure schema recorded ([`Present::access`]), if any.
fn recorded(present: &Present) -> Result<Option<AccessMap>> {
    let Some(text) = &present.access else { return Ok(None) };
    AccessMap::from_json(text).map(Some).map_err(|e| {
        Error::Input(format!(
            "the access recorded in {} is not readable ({e}); a full `veil apply` records it again",
            access::ACCESS_TABLE
        ))
    })
}

/// The statements recording `json` (an [`AccessMap`]) as the access of `schema`.
fn record_statements(json: &str, schema: &str) -> Vec<String> {
    let target = DuckDbTarget { extension: None };
    let schema = target.literal(schema);
    vec![
        "CREATE SCHEMA IF NOT EXISTS veil;".into(),
        format!(
            "CREATE TABLE IF NOT EXISTS {} (secure_schema VARCHAR PRIMARY KEY, access VARCHAR NOT NULL);",
            access::ACCESS_TABLE
        ),
        format!("DELETE FROM {} WHERE secure_schema = {schema};", access::ACCESS_TABLE),
        format!("INSERT INTO {} VALUES ({schema}, {});", access::ACCESS_TABLE, target.literal(json)),
    ]
}

/// DuckDB names a database file's catalog after the file (`veil.duckdb` is
/// catalog `veil`); a schema of the same name then makes `"veil"."users"`
/// ambiguous, and DuckDB refuses it in every session, the readers' included.
/// Refuse such a file before anything is written, saying what to rename.
///
/// # Errors
/// [`Error::Input`] naming the file, the schema and what to do.
fn catalog_name_apart(database: &std::path::Path, engine: &Engine, options: &BindOptions) -> Result<()> {
    let Some(catalog) = database.file_stem().and_then(|s| s.to_str()) else { return Ok(()) };
    let mut schemas: Vec<(&str, &str)> = vec![
        (veil_host::render::FACTS_SCHEMA, "veil's facts about readers"),
        (&options.secure_schema, "the secure views (--schema)"),
    ];
    schemas.extend(engine.catalog().sources().filter_map(|s| s.schema.as_deref()).map(|s| (s, "a data source")));
    match schemas.into_iter().find(|(schema, _)| schema.eq_ignore_ascii_case(catalog) && !catalog.eq_ignore_ascii_case("main")) {
        Some((schema, what)) => Err(Error::Input(format!(
            "DuckDB names the catalog of `{}` `{catalog}`, the same as schema `{schema}` ({what}), so `{schema}.<name>` is ambiguous and DuckDB refuses it in every session; rename the database file (e.g. `{catalog}_db.duckdb`){}",
            database.display(),
            if what.starts_with("the secure") { " or choose another --schema" } else { "" }
        ))),
        None => Ok(()),
    }
}

/// What [`prepare`] found and would write.
struct Prepared {
    /// The apply's statements (none: nothing to write).
    steps: Vec<Step>,
    /// What the apply reports.
    applied: Applied,
    /// The access the database recorded last.
    record: Option<AccessMap>,
    /// The access the bindings give, of the sources bound (dynamic mode only).
    access: Option<AccessMap>,
}

/// Check every input against the database and build the apply's statements;
/// also what access the database recorded last and what the bindings give.
fn prepare(
    inputs: &Inputs,
    engine: &Engine,
    options: &BindOptions,
    db: &DuckDb,
    session: &mut Session,
) -> Result<Prepared> {
    let snapshot = matches!(options.mode, Mode::Dynamic) && options.sources.is_empty();
    // The declared catalog the snapshot starts from is read again from its files
    // (the engine keeps no snapshot of it): beside binding and the catalog read,
    // not after them.
    std::thread::scope(|scope| {
        let declared = snapshot.then(|| scope.spawn(|| monitor::declared(inputs)));
        let declared = move || match declared.map(std::thread::ScopedJoinHandle::join) {
            Some(Ok(declared)) => declared.map(Some),
            Some(Err(_)) => Err(Error::Engine("reading the declared catalog failed".into())),
            None => Ok(None),
        };
        prepare_in(engine, options, db, session, declared)
    })
}

fn prepare_in(
    engine: &Engine,
    options: &BindOptions,
    db: &DuckDb,
    session: &mut Session,
    declared: impl FnOnce() -> Result<Option<monitor::Declared>>,
) -> Result<Prepared> {
    let target = DuckDbTarget { extension: None };
    let bindings = bind(engine, &target, options)?;
    catalog_name_apart(&db.database, engine, options)?;
    let mut present = present(session, &options.secure_schema)?;
    crate::duckdb::refuse_shadowing(session, "nothing was applied")?;
    let in_the_way: Vec<String> = bindings
        .views
        .values()
        .filter(|view| present.secure_tables.contains(&view.to_lowercase()))
        .map(|view| format!("`{}.{view}`", options.secure_schema))
        .collect();
    if !in_the_way.is_empty() {
        return Err(Error::Input(format!(
            "in `{}`, {} {} a table where veil makes a secure view: the schema `{}` holds only veil's views, \
             and a reader would read such a table as it is; drop or rename it, then apply again; nothing was applied",
            db.database.display(),
            in_the_way.join(", "),
            if in_the_way.len() == 1 { "is" } else { "are" },
            options.secure_schema
        )));
    }

    // Every base relation must be there. Tables the catalog lists are; anything
    // else (a view, another database) is probed by reading it.
    let probed: Vec<&str> = bindings
        .statements
        .iter()
        .filter(|s| s.kind == StatementKind::View && s.select.is_some())
        .filter_map(|s| s.source.as_deref())
        .filter(|name| {
            engine
                .catalog()
                .source(name)
                .is_none_or(|s| s.database.is_some() || !present.tables.contains(&relation_key(s)))
        })
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
        .zip(if probes.is_empty() { Vec::new() } else { session.query(&probes)? })
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

    let mut steps: Vec<Step> = Vec::new();
    // Views written by this apply, with their statement's sha.
    let mut written: Vec<(String, String)> = Vec::new();
    let facts: Vec<&str> =
        bindings.statements.iter().filter(|s| s.kind == StatementKind::Facts).map(|s| s.sql.as_str()).collect();
    let facts_sha = sha_hex(&[facts.join("\0").as_bytes()]);
    let facts_unchanged = facts.is_empty()
        || present
            .facts_applied
            .as_ref()
            .zip(present.facts_now.as_ref())
            .is_some_and(|((sha, then), now)| *sha == facts_sha && then == now && !now.is_empty());
    // A facts relation held under the other kind (a table where veil makes a
    // view, or the reverse) would make DuckDB refuse to replace it: drop it first.
    let mut facts_in_the_way = facts_in_the_way(&present.facts_kinds);
    for s in bindings.statements.iter().filter(|s| s.kind != StatementKind::Comment) {
        if s.kind == StatementKind::Facts && facts_unchanged {
            continue;
        }
        if s.kind == StatementKind::Facts {
            steps.append(&mut facts_in_the_way);
        }
        let view = match (s.kind, &s.source) {
            (StatementKind::View, Some(source)) => bindings.views.get(source),
            _ => None,
        };
        if let Some(view) = view {
            let base = s.source.as_deref().and_then(|n| engine.catalog().source(n));
            let sha = statement_sha(&s.sql, base.and_then(|b| present.columns.get(&relation_key(b))));
            let unchanged = present.applied.get(view).zip(present.views.get(view)).is_some_and(
                |((applied_sha, applied_engine), engine_now)| *applied_sha == sha && applied_engine == engine_now,
            );
            if unchanged {
                continue;
            }
            written.push((view.clone(), sha));
        }
        steps.push(Step {
            sql: s.sql.clone(),
            about: match (s.kind, &s.source) {
                (StatementKind::View, Some(source)) => Some(format!("the secure view of data source `{source}`")),
                (StatementKind::Facts, _) => Some("the facts about readers (schema veil)".into()),
                _ => None,
            },
        });
    }
    let mut dropped: Vec<String> = Vec::new();
    if options.sources.is_empty() {
        // Views an earlier apply made that this policy no longer has (a source
        // renamed, dropped, or now named apart) would keep the old policy.
        let current: BTreeSet<String> = bindings.views.values().map(|v| v.to_lowercase()).collect();
        for view in present.views.keys().filter(|v| !current.contains(&v.to_lowercase())) {
            let sql = format!(
                "DROP VIEW IF EXISTS {}.{};",
                target.quote_ident(&options.secure_schema),
                target.quote_ident(view)
            );
            steps.push(Step { sql, about: Some("a view no source has now".into()) });
            dropped.push(view.clone());
        }
    }
    // Records of what was written, each only when its part changed: with nothing
    // changed an apply runs no transaction at all.
    let mut records: Vec<Step> = Vec::new();
    if !written.is_empty() || !dropped.is_empty() {
        records.extend(
            record_applied(&options.secure_schema, &written, &dropped)
                .into_iter()
                .map(|sql| Step { sql, about: Some(format!("the record of applied views ({APPLIED_TABLE})")) }),
        );
    }
    if !facts_unchanged {
        records.extend(
            record_facts(&facts_sha)
                .into_iter()
                .map(|sql| Step { sql, about: Some(format!("the record of applied facts ({APPLIED_FACTS_TABLE})")) }),
        );
    }
    let database = session.database().to_path_buf();
    let mut applied = Applied { views: bindings.views.len(), changed_views: written.len(), ..Applied::default() };
    if let Some(declared) = declared()? {
        let snapshot = monitor::baseline(&declared, std::mem::take(&mut present.live), &database, &bindings.views);
        let json = snapshot.to_json();
        if present.snapshot_sha.as_deref() != Some(sha_hex(&[json.as_bytes()]).as_str()) {
            applied.snapshot_written = true;
            let about = format!("the catalog snapshot ({})", monitor::SNAPSHOT_TABLE);
            records.extend(
                monitor::store_statements(&json, "veil apply")
                    .into_iter()
                    .map(|sql| Step { sql, about: Some(about.clone()) }),
            );
        }
        applied.snapshot_sources = Some(snapshot.sources.len());
    }
    let record = recorded(&present)?;
    let mut new_access = None;
    if matches!(options.mode, Mode::Dynamic) {
        let new = access::access_map(engine, &options.sources)?;
        let map = access::merged(record.clone(), new.clone(), !options.sources.is_empty());
        new_access = Some(new);
        let json = map.to_json();
        if present.access.as_deref() != Some(json.as_str()) {
            let about = format!("the record of who gets what ({})", access::ACCESS_TABLE);
            records.extend(
                record_statements(&json, &options.secure_schema)
                    .into_iter()
                    .map(|sql| Step { sql, about: Some(about.clone()) }),
            );
        }
    }
    // Views written or dropped always come with their record.
    if records.is_empty() {
        steps.clear();
    }
    steps.extend(records);
    Ok(Prepared { steps, applied, record, access: new_access })
}

/// Statements that record the facts just written (statements sha `sha`, and
/// DuckDB's digest of them as written), in the apply's transaction, after them.
fn record_facts(sha: &str) -> Vec<String> {
    let t = DuckDbTarget { extension: None };
    vec![
        "CREATE SCHEMA IF NOT EXISTS veil".to_string(),
        format!(
            "CREATE TABLE IF NOT EXISTS {APPLIED_FACTS_TABLE} (statement VARCHAR NOT NULL, engine VARCHAR NOT NULL)"
        ),
        format!("DELETE FROM {APPLIED_FACTS_TABLE}"),
        format!("INSERT INTO {APPLIED_FACTS_TABLE} SELECT {}, ({})", t.literal(sha), facts_digest()),
    ]
}

/// The components the custom masks of `engine`'s policies (not staged) call, by
/// the prefix their functions are registered under: absolute paths.
///
/// # Errors
/// [`Error::Input`] for a component that cannot be found or a path the
/// components file cannot hold (white space, `#`).
pub fn components(engine: &Engine) -> Result<BTreeMap<String, PathBuf>> {
    let live: Vec<veil_policy::Policy> = engine.policies().iter().filter(|p| !p.staged).cloned().collect();
    let mut out = BTreeMap::new();
    for used in veil_policy::component_masks(&live) {
        let path = std::fs::canonicalize(used.component).map_err(|e| {
            Error::Input(format!("{}: cannot find component `{}`: {e}", used.location, used.component.display()))
        })?;
        if path.to_string_lossy().contains(|c: char| c.is_whitespace() || c == '#') {
            return Err(Error::Input(format!(
                "{}: component path `{}` holds white space or `#`, which a components file cannot; move it",
                used.location,
                path.display()
            )));
        }
        out.insert(used.prefix.to_owned(), path);
    }
    Ok(out)
}

/// The entries of a components file (none when it does not exist).
fn read_components(file: &Path) -> Result<BTreeMap<String, PathBuf>> {
    if !file.exists() {
        return Ok(BTreeMap::new());
    }
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::Input(format!("cannot read `{}`: {e}", file.display())))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split('#').next()?.split_once('='))
        .filter_map(|(prefix, rest)| Some((prefix.trim().to_owned(), PathBuf::from(rest.split_whitespace().next()?))))
        .collect())
}

/// Write a components file (veil_wasm's format), replacing it whole.
fn write_components(file: &Path, components: &BTreeMap<String, PathBuf>) -> Result<()> {
    let mut text = String::from(
        "# Written by veil apply: the Wasm components the secure views' custom masks call.\n\
         # Load them before querying the views: VEIL_COMPONENTS=<this file>, then LOAD veil_wasm.\n",
    );
    for (prefix, path) in components {
        text.push_str(&format!("{prefix} = {}\n", path.display()));
    }
    let partial = file.with_extension("veil-components.partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, file))
        .map_err(|e| Error::Input(format!("cannot write `{}`: {e}", file.display())))
}

/// Statements that record the views just written (and forget those dropped or
/// about to be replaced), in the apply's transaction, after the views.
fn record_applied(schema: &str, written: &[(String, String)], dropped: &[String]) -> Vec<String> {
    let t = DuckDbTarget { extension: None };
    let schema_literal = t.literal(schema);
    let mut out = vec![
        "CREATE SCHEMA IF NOT EXISTS veil".to_string(),
        format!(
            "CREATE TABLE IF NOT EXISTS {APPLIED_TABLE} \
             (schema_name VARCHAR NOT NULL, view_name VARCHAR NOT NULL, statement VARCHAR NOT NULL, engine VARCHAR)"
        ),
    ];
    let forget: Vec<String> = written.iter().map(|(v, _)| v).chain(dropped).map(|v| t.literal(v)).collect();
    if !forget.is_empty() {
        out.push(format!(
            "DELETE FROM {APPLIED_TABLE} WHERE schema_name = {schema_literal} AND view_name IN ({})",
            forget.join(", ")
        ));
    }
    if !written.is_empty() {
        let rows: Vec<String> =
            written.iter().map(|(v, sha)| format!("({}, {})", t.literal(v), t.literal(sha))).collect();
        out.push(format!(
            "INSERT INTO {APPLIED_TABLE} SELECT v.schema_name, v.view_name, w.statement, md5(v.sql) \
             FROM duckdb_views() v JOIN (VALUES {}) w(view_name, statement) ON v.view_name = w.view_name \
             WHERE NOT v.internal AND v.database_name = current_database() AND v.schema_name = {schema_literal}",
            rows.join(", ")
        ));
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use std::collections::BTreeMap;
    use std::path::PathBuf;

    #[test]
    fn a_components_file_reads_back_what_was_written_in_veil_wasms_format() {
        let folder = std::env::temp_dir().join(format!("veil-components-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let file = crate::duckdb::components_file(&folder.join("db.duckdb"));
        assert_eq!(file, folder.join("db.duckdb.veil-components"));
        assert!(super::read_components(&file).unwrap().is_empty());
        let entries: BTreeMap<String, PathBuf> =
            [("iban".to_owned(), PathBuf::from("/opt/masks/iban.wasm")), ("zip".into(), PathBuf::from("/z.wasm"))]
                .into();
        super::write_components(&file, &entries).unwrap();
        assert_eq!(super::read_components(&file).unwrap(), entries);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("\niban = /opt/masks/iban.wasm\nzip = /z.wasm\n"), "{text}");
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
