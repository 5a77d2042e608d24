//! Schema monitoring against a DuckDB database: read what the engine has,
//! compare it with the snapshot veil stored there at the last apply or
//! monitor run, lock what is new, bind again only what changed.
//!
//! The rules are in `veil_monitor::reconcile`; this module does the I/O. The
//! snapshot lives in the target itself, in `veil.catalog_snapshot`, and is
//! written in the same transaction as the views it describes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_host::{bind, BindOptions, Mode, StatementKind};
use veil_monitor::{keep_tags, reconcile, Diff, Kind, LiveColumn, Snapshot};
use veil_policy::{Catalog, DataSource, Directory, Engine, PolicySet};

use crate::discover::autotag::{autotag, AutoTags};
use crate::discover::Discovery;
use crate::duckdb::{Access, DuckDb, Query, Session, Step};
use crate::load::Inputs;
use crate::{Error, Result};

/// The table holding the last applied snapshot (one row).
pub const SNAPSHOT_TABLE: &str = "veil.catalog_snapshot";
/// The table a transform job inserts into to ask for a monitoring run.
pub const REQUESTS_TABLE: &str = "veil.monitor_requests";
/// Schemas veil owns, never monitored.
const OWN_SCHEMAS: [&str; 3] = ["veil", "information_schema", "pg_catalog"];

/// What the catalog declares: a snapshot with tags, and dbt's exposures.
pub struct Declared {
    /// The declared catalog as a snapshot.
    pub snapshot: Snapshot,
    /// dbt exposures (projects with purposes), added to the users' directory.
    pub projects: Vec<veil_dbt::Project>,
}

/// Read the declared catalog (dbt target or catalog YAML).
///
/// # Errors
/// Unreadable or invalid dbt artifacts or catalog file.
pub fn declared(inputs: &Inputs) -> Result<Declared> {
    // Tag files (--tags) count as declared: a source bound again keeps their masks.
    let add_tags = |catalog: &mut Catalog| -> Result<()> {
        for file in &inputs.tags {
            catalog.add_tags(file)?;
        }
        Ok(())
    };
    match (&inputs.dbt_target, &inputs.catalog) {
        (Some(target), None) => {
            let mut artifacts = veil_dbt::load(target)?;
            add_tags(&mut artifacts.catalog)?;
            let snapshot = Snapshot::from_dbt(&artifacts, &format!("dbt:{}", target.display()));
            Ok(Declared { snapshot, projects: artifacts.projects })
        }
        (None, Some(path)) => {
            let mut catalog = Catalog::load(path)?;
            add_tags(&mut catalog)?;
            Ok(Declared {
                snapshot: Snapshot::from_catalog(&catalog, &format!("catalog:{}", path.display())),
                projects: Vec::new(),
            })
        }
        _ => Err(Error::Usage("give either --dbt-target <dbt project>/target or --catalog <catalog.yaml>".into())),
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Every column of every table and view outside `exclude`, with the view's SQL
/// fingerprint. From `duckdb_columns()` and `duckdb_views()` (what
/// information_schema is made of, without its joins: about 4x faster at 10,000
/// tables; same names, types and order).
pub(crate) fn live_query(exclude: &[&str]) -> String {
    let excluded = OWN_SCHEMAS.iter().chain(exclude).map(|s| quote(s)).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT c.schema_name, c.table_name, CASE WHEN v.view_name IS NULL THEN 'BASE TABLE' ELSE 'VIEW' END, \
                v.fingerprint, c.column_name, c.data_type \
         FROM duckdb_columns() c \
         LEFT JOIN (SELECT database_name, schema_name, view_name, 'sql:' || md5(sql) AS fingerprint \
                    FROM duckdb_views() WHERE NOT internal AND database_name = current_database() \
                      AND schema_name NOT IN ({excluded})) v \
           ON v.database_name = c.database_name AND v.schema_name = c.schema_name AND v.view_name = c.table_name \
         WHERE NOT c.internal AND c.database_name = current_database() AND c.schema_name NOT IN ({excluded}) \
         ORDER BY c.schema_name, c.table_name, c.column_index"
    )
}

/// A cell as text (NULL and missing: empty).
pub(crate) fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn live_rows(rows: &[Vec<Value>]) -> Vec<LiveColumn> {
    rows.iter()
        .map(|r| LiveColumn {
            schema: text(r.first()),
            table: text(r.get(1)),
            kind: match text(r.get(2)).as_str() {
                "VIEW" => Kind::View,
                "BASE TABLE" | "LOCAL TEMPORARY" => Kind::Table,
                _ => Kind::Unknown,
            },
            fingerprint: Some(text(r.get(3))).filter(|f| !f.is_empty()),
            column: text(r.get(4)),
            data_type: text(r.get(5)),
        })
        .collect()
}

fn answer(answers: &[crate::duckdb::Answer], i: usize) -> Result<&crate::duckdb::Answer> {
    answers.get(i).ok_or_else(|| Error::Engine("DuckDB gave fewer answers than queries".into()))
}

/// What the engine has now, outside veil's own schemas and `exclude`.
///
/// # Errors
/// [`Error::Engine`] when DuckDB cannot be queried.
pub fn read_live(session: &mut Session, exclude: &[&str]) -> Result<Snapshot> {
    let answers = session.query(&[Query { setup: Vec::new(), sql: live_query(exclude) }])?;
    let live = answer(&answers, 0)?;
    if !live.ok {
        return Err(Error::Engine(format!("reading information_schema: {}", live.error.clone().unwrap_or_default())));
    }
    Ok(Snapshot::from_live(live_rows(&live.rows), &format!("duckdb:{}", session.database().display())))
}

/// The snapshot stored by the last `veil apply` or `veil monitor`, if any.
///
/// # Errors
/// [`Error::Engine`] when DuckDB cannot be queried; a stored snapshot that does not parse.
pub fn read_stored(db: &DuckDb) -> Result<Option<Snapshot>> {
    let answers = db.query(&[Query { setup: Vec::new(), sql: format!("SELECT snapshot FROM {SNAPSHOT_TABLE}") }])?;
    stored_from(answer(&answers, 0)?, &db.database)
}

fn stored_from(a: &crate::duckdb::Answer, database: &Path) -> Result<Option<Snapshot>> {
    if !a.ok {
        return Ok(None);
    }
    match a.rows.first().and_then(|r| r.first()) {
        Some(Value::String(json)) => {
            let origin = format!("{SNAPSHOT_TABLE} in {}", database.display());
            Snapshot::from_json(json, &origin).map(Some).map_err(|e| Error::Engine(e.to_string()))
        }
        _ => Ok(None),
    }
}

/// Statements that store `snapshot_json` ([`Snapshot::to_json`]) as the last applied one and create the
/// request table a transform job can write to.
pub fn store_statements(snapshot_json: &str, by: &str) -> Vec<String> {
    vec![
        "CREATE SCHEMA IF NOT EXISTS veil".into(),
        format!("CREATE TABLE IF NOT EXISTS {SNAPSHOT_TABLE} (taken_at TIMESTAMP, taken_by VARCHAR, snapshot VARCHAR)"),
        format!(
            "CREATE TABLE IF NOT EXISTS {REQUESTS_TABLE} \
             (requested_at TIMESTAMP DEFAULT current_localtimestamp(), requested_by VARCHAR)"
        ),
        format!("DELETE FROM {SNAPSHOT_TABLE}"),
        format!(
            "INSERT INTO {SNAPSHOT_TABLE} VALUES (current_localtimestamp(), {}, {})",
            quote(by),
            quote(snapshot_json)
        ),
    ]
}

/// The schemas worth watching: those of declared or previously seen sources.
fn watched(declared: &Snapshot, previous: &Snapshot) -> BTreeSet<String> {
    declared
        .sources
        .values()
        .chain(previous.sources.values())
        .map(|s| s.schema.clone().unwrap_or_else(|| "main".into()))
        .collect()
}

/// For `veil apply`: the snapshot of what is applied, to store as the baseline
/// (see [`store_statements`]), from the [`declared`] catalog and the live catalog
/// apply read ([`live_query`] without the secure schema) of `database`.
pub fn baseline(
    declared: &Declared,
    live: Vec<LiveColumn>,
    database: &Path,
    views: &BTreeMap<String, String>,
) -> Snapshot {
    let mut live = Snapshot::from_live(live, &format!("duckdb:{}", database.display()));
    let schemas = watched(&declared.snapshot, &Snapshot::default());
    live.sources.retain(|_, s| s.schema.as_ref().is_some_and(|x| schemas.contains(x)));
    veil_monitor::baseline(&live, &declared.snapshot, views)
}

/// How to run the monitor.
#[derive(Clone, Debug)]
pub struct Options {
    /// Schema of the secure views.
    pub secure_schema: String,
    /// Key id masks use.
    pub key_id: String,
    /// Discovery on new columns before they leave the lockdown (none: they
    /// wait for tags from the catalog).
    pub discovery: Option<Discovery>,
}

/// What one monitoring run found and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Changes since the last applied snapshot (tags included, `New` too).
    pub changes: Diff,
    /// Sources bound again.
    pub rebound: Vec<String>,
    /// Views dropped, as `schema.view`.
    pub dropped_views: Vec<String>,
    /// Tables and views tagged `New`: no view, nobody reads them.
    pub locked_sources: Vec<String>,
    /// Columns tagged `New` (`source.column`): NULL for everyone.
    pub locked_columns: Vec<String>,
    /// Sources and columns whose `New` tag was lifted.
    pub released: Vec<String>,
    /// What discovery did with new columns.
    pub discovery: AutoTags,
    /// Sources in the database the declared catalog does not know.
    pub undeclared: Vec<String>,
    /// Sources that could not be bound (and so have no view), with why.
    pub failed: Vec<(String, String)>,
    /// Requests from `veil.monitor_requests` answered by this run.
    pub requests: u64,
    /// Statements executed.
    pub statements: usize,
}

impl Report {
    /// For people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("no changes since the last applied snapshot\n");
        } else {
            out.push_str(&format!("{} change(s) since the last applied snapshot:\n", self.changes.changes.len()));
            for c in &self.changes.changes {
                out.push_str(&format!("  {c}\n"));
            }
        }
        for s in &self.locked_sources {
            out.push_str(&format!("locked   {s}: tagged New, no view: nobody reads it until it is tagged\n"));
        }
        for c in &self.locked_columns {
            out.push_str(&format!("locked   {c}: tagged New, NULL for everyone until it is tagged\n"));
        }
        for f in &self.discovery.tagged {
            let found: Vec<String> = f.entities.iter().map(crate::discover::Evidence::describe).collect();
            out.push_str(&format!(
                "tagged   {}.{} by discovery: {}; tags {}\n",
                f.source,
                f.column,
                found.join("; "),
                f.tags.join(", ")
            ));
        }
        for (f, why) in &self.discovery.held {
            let found: Vec<&str> = f.entities.iter().map(|e| e.entity.as_str()).collect();
            out.push_str(&format!(
                "held     {}.{}: discovery found {}, but {why}; it stays locked until tagged\n",
                f.source,
                f.column,
                found.join(", ")
            ));
        }
        for r in &self.released {
            out.push_str(&format!("released {r}: tagged, New lifted, its policies apply\n"));
        }
        for (s, why) in &self.failed {
            out.push_str(&format!("FAILED   {s}: cannot bind, view dropped (nobody reads it): {why}\n"));
        }
        for v in &self.dropped_views {
            out.push_str(&format!("dropped  view {v}\n"));
        }
        if !self.rebound.is_empty() {
            out.push_str(&format!("rebound  {} source(s): {}\n", self.rebound.len(), self.rebound.join(", ")));
        }
        if !self.undeclared.is_empty() {
            out.push_str(&format!(
                "note: {} source(s) are not in the declared catalog and stay unbound: {}\n",
                self.undeclared.len(),
                self.undeclared.join(", ")
            ));
        }
        if self.requests > 0 {
            out.push_str(&format!("answered {} request(s) from {REQUESTS_TABLE}\n", self.requests));
        }
        out
    }
}

fn engine(inputs: &Inputs, projects: &[veil_dbt::Project], sources: Vec<DataSource>) -> Result<Engine> {
    let policies = PolicySet::load(&inputs.policies)?;
    let mut users = Directory::load(&inputs.users)?;
    for p in projects {
        users.add_project(&p.name, p.purposes.iter().cloned());
    }
    Ok(Engine::new(policies, users, Catalog::from_sources(sources))?)
}

/// One monitoring run. It looks read-only first, and only when there is
/// something to do opens the database for writing, looks again and writes,
/// in one transaction.
///
/// # Errors
/// Invalid inputs, no stored snapshot (run `veil apply` first), or DuckDB failing.
pub fn run_once(inputs: &Inputs, db: &DuckDb, options: &Options) -> Result<Report> {
    let declared = declared(inputs)?;
    // The read-only session ends before the writing one starts: DuckDB would make
    // the writer wait for it.
    let looked = run_in(&mut db.open(Access::Read)?, inputs, &declared, options)?;
    match looked {
        Some(report) => Ok(report),
        None => run_in(&mut db.open(Access::Write { create: false })?, inputs, &declared, options)?
            .ok_or_else(|| Error::Engine("DuckDB: a session opened for writing is read-only".into())),
    }
}

/// Look, and when something changed write it; `None` when writing needs a
/// read-write session and `session` is read-only.
fn run_in(session: &mut Session, inputs: &Inputs, declared: &Declared, options: &Options) -> Result<Option<Report>> {
    crate::duckdb::refuse_shadowing(session, "nothing was changed")?;
    let answers = session.query(&[
        Query { setup: Vec::new(), sql: format!("SELECT snapshot FROM {SNAPSHOT_TABLE}") },
        Query { setup: Vec::new(), sql: live_query(&[&options.secure_schema]) },
        Query {
            setup: Vec::new(),
            sql: format!("SELECT count(*), CAST(max(requested_at) AS VARCHAR) FROM {REQUESTS_TABLE}"),
        },
    ])?;
    let database = session.database().to_path_buf();
    let previous = stored_from(answer(&answers, 0)?, &database)?.ok_or_else(|| {
        Error::Usage(format!(
            "no applied snapshot in `{}` ({SNAPSHOT_TABLE}); run `veil apply` first",
            database.display()
        ))
    })?;
    let live_answer = answer(&answers, 1)?;
    if !live_answer.ok {
        return Err(Error::Engine(format!(
            "reading information_schema: {}",
            live_answer.error.clone().unwrap_or_default()
        )));
    }
    let mut live = Snapshot::from_live(live_rows(&live_answer.rows), &format!("duckdb:{}", database.display()));
    let schemas = watched(&declared.snapshot, &previous);
    live.sources.retain(|_, s| s.schema.as_ref().is_some_and(|x| schemas.contains(x)));
    let (requests, requested_until) = match answer(&answers, 2)? {
        a if a.ok => {
            let row = a.rows.first();
            (row.and_then(|r| r.first()).and_then(Value::as_u64).unwrap_or(0), row.and_then(|r| r.get(1)).cloned())
        }
        _ => (0, None),
    };

    // Tags discovery gave in earlier runs are in no declared catalog: carry them.
    let mut declared_now = declared.snapshot.clone();
    keep_tags(&mut declared_now, &previous, DISCOVERED_PREFIX);
    let mut run = reconcile(&previous, &live, &declared_now);
    let mut discovered = AutoTags::default();
    if let (Some(discovery), false) = (&options.discovery, run.locked_columns.is_empty()) {
        let policies = |sources| engine(inputs, &declared.projects, sources);
        discovered = autotag(session, &run, discovery, policies)?;
        if !discovered.tagged.is_empty() {
            for f in &discovered.tagged {
                declared_now.tag_column(&f.source, &f.column, &f.tags);
            }
            run = reconcile(&previous, &live, &declared_now);
        }
    }
    let target = DuckDbTarget { extension: None };
    let schema = target.quote_ident(&options.secure_schema);
    let mut report = Report {
        locked_sources: run.locked_sources.clone(),
        locked_columns: run.locked_columns.iter().map(|(s, c)| format!("{s}.{c}")).collect(),
        released: run.released.clone(),
        undeclared: run.undeclared.clone(),
        requests,
        discovery: discovered,
        ..Report::default()
    };
    if run.diff.is_empty() && run.rebind.is_empty() && run.unbind.is_empty() && requests == 0 {
        report.changes = run.diff;
        return Ok(Some(report));
    }
    if !session.writable() {
        return Ok(None);
    }

    // Bind what changed. A source whose plan fails (say a mask no longer fits a
    // changed type) gets no view rather than a stale one.
    let mut bound: Vec<String> = run.rebind.clone();
    let mut failed_views: Vec<String> = Vec::new();
    let engine = match engine(inputs, &declared.projects, run.snapshot.data_sources(bound.iter().map(String::as_str))) {
        Ok(e) => Some(e),
        Err(_) if !bound.is_empty() => {
            let mut ok = Vec::new();
            for name in &bound {
                match engine(inputs, &declared.projects, run.snapshot.data_sources([name.as_str()])) {
                    Ok(_) => ok.push(name.clone()),
                    Err(e) => report.failed.push((name.clone(), e.to_string())),
                }
            }
            bound = ok;
            Some(engine(inputs, &declared.projects, run.snapshot.data_sources(bound.iter().map(String::as_str)))?)
        }
        Err(e) => return Err(e),
    };
    for (name, _) in &report.failed {
        if let Some(s) = run.snapshot.sources.get_mut(name) {
            if let Some(view) = s.view.take() {
                failed_views.push(view);
            }
        }
    }

    let mut statements = Vec::new();
    let mut drop_view = |view: &str, statements: &mut Vec<String>| {
        statements.push(format!("DROP VIEW IF EXISTS {schema}.{}", target.quote_ident(view)));
        report.dropped_views.push(format!("{}.{view}", options.secure_schema));
    };
    for (_, view) in &run.unbind {
        drop_view(view, &mut statements);
    }
    for view in &failed_views {
        drop_view(view, &mut statements);
    }
    if let (Some(engine), false) = (&engine, bound.is_empty()) {
        let bindings = bind(
            engine,
            &target,
            &BindOptions {
                mode: Mode::Dynamic,
                key_id: options.key_id.clone(),
                secure_schema: options.secure_schema.clone(),
                sources: bound.clone(),
            },
        )?;
        for (name, view) in &bindings.views {
            if let Some(s) = run.snapshot.sources.get_mut(name) {
                // A view renamed (two sources now share a relation name): drop the old one.
                if let Some(old) = s.view.replace(view.clone()).filter(|old| old != view) {
                    drop_view(&old, &mut statements);
                }
            }
        }
        statements.extend(bindings.statements.into_iter().filter(|s| s.kind != StatementKind::Comment).map(|s| s.sql));
    }
    statements.extend(store_statements(&run.snapshot.to_json(), "veil monitor"));
    if let Some(Value::String(until)) = requested_until {
        statements
            .push(format!("DELETE FROM {REQUESTS_TABLE} WHERE requested_at <= CAST({} AS TIMESTAMP)", quote(&until)));
    }
    let steps: Vec<Step> = statements.into_iter().map(Step::plain).collect();
    session.transaction_in_parts(&steps, 500, &mut crate::progress::reporter("monitor", "statements"))?;
    report.statements = steps.len();
    report.rebound = bound;
    report.changes = std::mem::take(&mut run.diff);
    Ok(Some(report))
}

/// Tags under this prefix are discovery's: carried from run to run.
const DISCOVERED_PREFIX: &str = "Discovered.";

/// Is a monitoring run asked for (a row in `veil.monitor_requests`)?
///
/// # Errors
/// [`Error::Engine`] when DuckDB cannot be reached.
pub fn requested(db: &DuckDb) -> Result<bool> {
    let answers = db.query(&[Query { setup: Vec::new(), sql: format!("SELECT count(*) FROM {REQUESTS_TABLE}") }])?;
    let a = answer(&answers, 0)?;
    Ok(a.ok && a.rows.first().and_then(|r| r.first()).and_then(Value::as_u64).unwrap_or(0) > 0)
}

/// A snapshot named on the command line: `dbt:DIR`, `catalog:FILE`,
/// `snapshot:FILE`, `duckdb:FILE` (what the database has now) or
/// `applied:FILE` (the snapshot stored in a database). Without a prefix: a
/// folder or `manifest.json` is dbt, a `.duckdb`/`.db` file is a live
/// database, a `.yaml`/`.yml` file a catalog, anything else a snapshot file.
///
/// # Errors
/// Unreadable inputs; `db` missing for a database.
pub fn snapshot_from_arg(arg: &str, db: impl Fn(&Path) -> Result<DuckDb>) -> Result<Snapshot> {
    let (kind, rest) = match arg.split_once(':') {
        Some((k @ ("dbt" | "catalog" | "snapshot" | "duckdb" | "applied"), rest)) => (k.to_string(), rest),
        _ => {
            let p = Path::new(arg);
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
            let kind = if p.is_dir() || p.file_name().is_some_and(|f| f == "manifest.json") {
                "dbt"
            } else if matches!(ext.as_str(), "duckdb" | "db" | "ddb") {
                "duckdb"
            } else if matches!(ext.as_str(), "yaml" | "yml") {
                "catalog"
            } else {
                "snapshot"
            };
            (kind.to_string(), arg)
        }
    };
    let path = Path::new(rest);
    match kind.as_str() {
        "dbt" => {
            let artifacts = if path.is_dir() {
                veil_dbt::load(path)?
            } else {
                let catalog = path.with_file_name("catalog.json");
                veil_dbt::load_files(path, catalog.exists().then_some(catalog))?
            };
            Ok(Snapshot::from_dbt(&artifacts, &format!("dbt:{rest}")))
        }
        "catalog" => Ok(Snapshot::from_catalog(&Catalog::load(path)?, &format!("catalog:{rest}"))),
        "duckdb" => read_live(&mut db(path)?.open(Access::Read)?, &["secure"]),
        "applied" => {
            let db = db(path)?;
            read_stored(&db)?.ok_or_else(|| Error::Usage(format!("no snapshot stored in `{rest}` ({SNAPSHOT_TABLE})")))
        }
        _ => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Usage(format!("cannot read snapshot `{rest}`: {e}")))?;
            Snapshot::from_json(&text, rest).map_err(|e| Error::Usage(e.to_string()))
        }
    }
}
