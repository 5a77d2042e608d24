//! Running SQL in a DuckDB database file.
//!
//! veil drives DuckDB through its Python package, the same one dbt-duckdb uses,
//! so the database file is always read by the version that wrote it. The veil
//! extension is loaded with `allow_unsigned_extensions`; the keyring file is
//! handed to it through `VEIL_KEYRING`.
//!
//! A [`Session`] is the database held open, read-only or read-write, by a runner
//! process. One runner serves a whole command: a session ends by closing the
//! database (so other processes may have it) and the next session of the command
//! reuses the runner, so Python and duckdb start once. DuckDB lets one process
//! write a file or many read it, never both at once, so a session waits up to
//! [`DuckDb::lock_timeout`] for the file; a
//! writer announces itself first (`<database>.veil-lock`) so that readers
//! arriving later wait for it instead of starving it. Writes run in one
//! transaction ([`Session::transaction`]): a failure, or the process being
//! killed at any point, leaves the database as it was before.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Error, Result};

const RUNNER: &str = include_str!("duckdb_runner.py");

/// The file name of the sibling extension that loads Wasm components (custom masks).
pub const WASM_EXTENSION: &str = "veil_wasm.duckdb_extension";

/// The components file of `database` (`<database>.veil-components`): what
/// `veil apply` writes when the views call custom masks, in veil_wasm's format
/// (`<prefix> = <absolute path>` a line). Every session veil opens on the
/// database then loads veil_wasm with it (`VEIL_COMPONENTS`); other clients
/// must do the same, or the views fail.
pub fn components_file(database: &std::path::Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".veil-components");
    PathBuf::from(name)
}

/// How long a session waits for another process to release the database by default.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// What to do about the Python that drives DuckDB, for messages.
const PYTHON_HELP: &str =
    "name the Python that has the `duckdb` package (the one dbt-duckdb runs under) with --python, \
     VEIL_PYTHON or `engines: {duckdb: {python: PATH}}` in veil.yml";

/// Queries per request when progress is shown between requests.
const QUERIES_PER_REQUEST: usize = 50;

/// A DuckDB database and how to reach it.
#[derive(Clone, Debug)]
pub struct DuckDb {
    /// The Python interpreter with the `duckdb` package.
    pub python: String,
    /// The database file.
    pub database: PathBuf,
    /// The veil extension (`dist/veil.duckdb_extension`).
    pub extension: PathBuf,
    /// The keyring file the extension reads key ids from.
    pub keyring: PathBuf,
    /// How long to wait while another process holds the database.
    pub lock_timeout: Duration,
}

/// How a session opens the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only, sealed: no file access, no `ATTACH`, `INSTALL` or `LOAD`, no
    /// configuration changes; other readers may hold the file at the same time.
    Read,
    /// Read-write; `create` makes the database file when it does not exist.
    Write {
        /// Make a missing database file (otherwise a missing file is an error).
        create: bool,
    },
}

/// A query to run as one reader.
#[derive(Clone, Debug)]
pub struct Query {
    /// Statements run first (e.g. `SET VARIABLE veil_user = …`).
    pub setup: Vec<String>,
    /// The query.
    pub sql: String,
}

/// One statement of a transaction, and what it is about (for messages).
#[derive(Clone, Debug)]
pub struct Step {
    /// The SQL.
    pub sql: String,
    /// What it creates or changes, e.g. ``the view for data source `main.orders` ``.
    pub about: Option<String>,
}

impl Step {
    /// A statement about nothing in particular.
    pub fn plain(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), about: None }
    }
}

/// What a query returned.
#[derive(Clone, Debug, Deserialize)]
pub struct Answer {
    /// Whether it succeeded.
    pub ok: bool,
    /// The engine's error message.
    #[serde(default)]
    pub error: Option<String>,
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows, values as JSON (decimals and dates as text).
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
}

#[derive(Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    answers: Vec<Answer>,
    #[serde(default)]
    groups: Vec<Vec<Answer>>,
}

/// One runner process: Python with the duckdb package, answering requests.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    /// What it was started with (interpreter, keyring): a worker serves only
    /// sessions that would start it the same way.
    started_as: (String, PathBuf),
    /// An `open` request sent ahead ([`DuckDb::open_ahead`]) whose reply is unread.
    pending: Option<Value>,
}

impl Worker {
    fn spawn(python: &str, keyring: &std::path::Path) -> Result<Self> {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(RUNNER)
            .env("VEIL_KEYRING", keyring)
            .env("VEIL_PARENT_PID", std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::Engine(format!("cannot run `{python}` (needed to drive DuckDB): {e}; {PYTHON_HELP}"))
            })?;
        STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        });
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::Engine(format!("cannot talk to `{python}`")));
        };
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            stderr,
            started_as: (python.to_string(), keyring.to_path_buf()),
            pending: None,
        })
    }

    /// The reply to `request`, `None` when the runner stopped answering.
    fn request(&mut self, request: &Value) -> Option<Reply> {
        if self.send(request) {
            self.receive()
        } else {
            None
        }
    }

    /// Send `request`; false when the runner is gone.
    fn send(&mut self, request: &Value) -> bool {
        // One write per request: formatting straight into the pipe would make a
        // system call for every piece between escapes (hundreds of thousands for
        // a batch of views).
        let mut line = serde_json::to_vec(request).unwrap_or_default();
        line.push(b'\n');
        match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(&line).and_then(|()| stdin.flush()).is_ok(),
            None => false,
        }
    }

    /// The next reply, `None` when the runner stopped answering.
    fn receive(&mut self) -> Option<Reply> {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line).is_ok_and(|n| n > 0);
        read.then(|| serde_json::from_str::<Reply>(&line).ok()).flatten()
    }

    /// Settle an `open` sent ahead: the reply to `wanted` when that is what was
    /// sent (`Some`), else close what was opened and answer `None`.
    fn settle(&mut self, wanted: &Value) -> Option<Reply> {
        let sent = self.pending.take()?;
        let reply = self.receive();
        if &sent == wanted {
            return reply;
        }
        if reply.is_some_and(|r| r.ok) {
            let _ = self.request(&json!({"op": "close"}));
        }
        None
    }

    /// End the runner and return what it wrote to stderr.
    fn finish(&mut self) -> String {
        drop(self.stdin.take());
        let _ = self.child.wait();
        self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The runner no session is using, kept for the next session of the command.
static IDLE: Mutex<Option<Worker>> = Mutex::new(None);

/// A runner started as `python` with `keyring`: the idle one when it fits, else a new one.
fn worker(python: &str, keyring: &std::path::Path) -> Result<Worker> {
    let idle = IDLE.lock().ok().and_then(|mut idle| idle.take());
    match idle {
        Some(w) if w.started_as.0 == python && w.started_as.1 == keyring => Ok(w),
        _ => Worker::spawn(python, keyring),
    }
}

/// Start a runner for `python` and `keyring` now, if none is idle, so Python
/// starts and imports duckdb while veil reads its inputs. Failing to start is
/// left for the first session to report.
fn warm(python: &str, keyring: &std::path::Path) {
    let Ok(mut idle) = IDLE.lock() else { return };
    if idle.is_none() {
        *idle = Worker::spawn(python, keyring).ok();
    }
}

/// End the idle runner before veil exits, and wait until it is gone, so every
/// file lock it held is free when veil returns (a runner may still be closing
/// a read-only database it answered `close` for). Call once, at the end.
pub fn shutdown() {
    let idle = IDLE.lock().ok().and_then(|mut idle| idle.take());
    if let Some(mut worker) = idle {
        let _ = worker.child.kill();
        worker.finish();
    }
}

/// How many runner processes this command started (for tests and benchmarks).
pub fn runners_started() -> usize {
    STARTED.load(std::sync::atomic::Ordering::Relaxed)
}

static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// An open database, closed when dropped (an unfinished transaction is then
/// rolled back); its runner then serves the command's next session.
pub struct Session {
    worker: Option<Worker>,
    python: String,
    database: PathBuf,
    writable: bool,
}

impl DuckDb {
    /// A database reached with `python`, the extension and the keyring, waiting
    /// [`LOCK_TIMEOUT`] for other processes.
    pub fn new(python: &str, database: PathBuf, extension: PathBuf, keyring: PathBuf) -> Self {
        Self { python: python.into(), database, extension, keyring, lock_timeout: LOCK_TIMEOUT }
    }

    /// Start the runner now (Python and its duckdb import) so it is ready by
    /// the first [`DuckDb::open`]; call before reading inputs. Nothing is opened.
    pub fn warm(&self) {
        warm(&self.python, &self.keyring);
    }

    /// Open the database.
    ///
    /// # Errors
    /// [`Error::Input`] when the extension or (unless created) the database file
    /// is missing, the file is not a DuckDB database or the extension does not
    /// load, each with the fix; [`Error::Engine`] when Python cannot be run or
    /// another process holds the database longer than the lock timeout.
    pub fn open(&self, access: Access) -> Result<Session> {
        self.open_tuned(access, &[])
    }

    /// Open the database and run veil's own `settings` statements first (e.g.
    /// `SET disabled_optimizers = …`), before a read-only session locks its
    /// configuration.
    ///
    /// # Errors
    /// As [`DuckDb::open`].
    pub fn open_tuned(&self, access: Access, settings: &[&str]) -> Result<Session> {
        if !self.extension.is_file() {
            return Err(Error::Input(format!(
                "the veil DuckDB extension `{}` does not exist; build it with scripts/build-extension or name it with --extension",
                self.extension.display()
            )));
        }
        let create = access == Access::Write { create: true };
        if !create && !self.database.is_file() {
            return Err(missing_database(&self.database, access));
        }
        let request = self.open_request(access, settings)?;
        let mut worker = worker(&self.python, &self.keyring)?;
        let ahead = worker.settle(&request);
        let mut session = Session {
            worker: Some(worker),
            python: self.python.clone(),
            database: self.database.clone(),
            writable: access != Access::Read,
        };
        let reply = match ahead {
            Some(reply) => reply,
            None => session.request(&request)?,
        };
        if reply.ok {
            return Ok(session);
        }
        let error = reply.error.unwrap_or_default();
        let db = self.database.display();
        Err(match reply.stage.as_deref() {
            Some("missing") => missing_database(&self.database, access),
            Some("python") => Error::Engine(format!("`{}` has no duckdb package: {PYTHON_HELP}", self.python)),
            Some("lock") => Error::Engine(format!(
                "DuckDB `{db}` stayed in use by another process for {}s (DuckDB allows one writer or many \
                 readers, never both): {error}; try again when it is done, or raise --lock-timeout",
                self.lock_timeout.as_secs()
            )),
            Some("load") => Error::Input(format!(
                "the veil extension `{}` does not load into DuckDB: {error}; rebuild it with scripts/build-extension \
                 for the duckdb package `{}` runs (or name another Python with --python)",
                self.extension.display(),
                self.python
            )),
            Some("components") => Error::Input(format!(
                "the custom masks' components (`{}`, written by veil apply) do not load into DuckDB through \
                 `{}`: {error}; rebuild veil_wasm with scripts/build-extension, check the components, and apply again",
                components_file(&self.database).display(),
                self.wasm_extension().display()
            )),
            _ => Error::Input(format!("cannot open `{db}` as a DuckDB database: {error}")),
        })
    }

    /// The runner's `open` request for `access` with `settings`.
    fn open_request(&self, access: Access, settings: &[&str]) -> Result<Value> {
        let components = self.components()?;
        Ok(json!({
            "op": "open",
            "database": self.database,
            "extension": self.extension,
            "components": components.as_ref().map(|(file, extension)| json!({"file": file, "extension": extension})),
            "mode": if access == Access::Read { "read" } else { "write" },
            "create": access == Access::Write { create: true },
            "lock_timeout": self.lock_timeout.as_secs_f64(),
            "settings": settings,
        }))
    }

    /// Ask the runner to open the database now, as [`DuckDb::open_tuned`] with
    /// the same arguments will, and go on: DuckDB reads its catalog (0.5 s at
    /// 10,000 views) while veil reads its inputs. The session that then opens
    /// takes the answer (errors included); one opened otherwise closes it first.
    /// Nothing happens when the database or extension file is missing (that
    /// open reports it, or creates the database): no file is made ahead of the
    /// checks a command makes first.
    pub fn open_ahead(&self, access: Access, settings: &[&str]) {
        if !self.extension.is_file() || !self.database.is_file() {
            return;
        }
        let Ok(request) = self.open_request(access, settings) else { return };
        let Ok(mut worker) = worker(&self.python, &self.keyring) else { return };
        if worker.pending.is_none() && worker.send(&request) {
            worker.pending = Some(request);
        }
        if let Ok(mut idle) = IDLE.lock() {
            idle.get_or_insert(worker);
        }
    }

    /// The sibling extension that registers Wasm components as functions
    /// (`veil_wasm.duckdb_extension`, next to the veil extension).
    pub fn wasm_extension(&self) -> PathBuf {
        self.extension.with_file_name(WASM_EXTENSION)
    }

    /// What a session loads for custom masks: the database's components file
    /// ([`components_file`]) and [`DuckDb::wasm_extension`], when the file exists.
    ///
    /// # Errors
    /// [`Error::Input`] when the database has components but veil_wasm is missing.
    fn components(&self) -> Result<Option<(PathBuf, PathBuf)>> {
        let file = components_file(&self.database);
        if !file.is_file() {
            return Ok(None);
        }
        let extension = self.wasm_extension();
        if !extension.is_file() {
            return Err(Error::Input(format!(
                "`{}` lists the components the secure views' custom masks call, and their extension `{}` does \
                 not exist; build it with scripts/build-extension",
                file.display(),
                extension.display()
            )));
        }
        let absolute = |p: PathBuf| std::fs::canonicalize(&p).unwrap_or(p);
        Ok(Some((absolute(file), absolute(extension))))
    }

    /// Run queries read-only, each after its own setup; failures are answers, not errors.
    ///
    /// # Errors
    /// As [`DuckDb::open`], and when the runner stops answering.
    pub fn query(&self, queries: &[Query]) -> Result<Vec<Answer>> {
        self.open(Access::Read)?.query(queries)
    }

    /// As [`DuckDb::query`] in one session, sending the queries in parts and
    /// showing progress of `what` (e.g. `discover`) over `unit`s between them.
    ///
    /// # Errors
    /// As [`DuckDb::query`].
    pub fn query_with_progress(&self, queries: &[Query], what: &str, unit: &str) -> Result<Vec<Answer>> {
        let mut session = self.open(Access::Read)?;
        let progress = crate::progress::Progress::start(what, unit, queries.len() as u64);
        let mut answers = Vec::with_capacity(queries.len());
        for part in queries.chunks(QUERIES_PER_REQUEST) {
            answers.extend(session.query(part)?);
            progress.advance(part.len() as u64);
        }
        progress.finish();
        Ok(answers)
    }

    /// Run statements in one transaction: all of them or none.
    ///
    /// # Errors
    /// As [`DuckDb::open`] and [`Session::transaction`].
    pub fn execute(&self, steps: &[Step]) -> Result<()> {
        self.open(Access::Write { create: false })?.transaction(steps)
    }
}

fn missing_database(database: &std::path::Path, access: Access) -> Error {
    let fix = match access {
        Access::Write { .. } => "check the path given to --duckdb, or give --create to make a new database",
        Access::Read => "check the path given to --duckdb",
    };
    Error::Input(format!("the DuckDB database `{}` does not exist; {fix}", database.display()))
}

impl Session {
    /// Whether the session may write.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The database file this session has open.
    pub fn database(&self) -> &std::path::Path {
        &self.database
    }

    fn request(&mut self, request: &Value) -> Result<Reply> {
        if let Some(reply) = self.worker.as_mut().and_then(|w| w.request(request)) {
            return Ok(reply);
        }
        let said = self.worker.take().map(|mut w| w.finish()).unwrap_or_default();
        let help = if said.contains("No module named 'duckdb'") {
            format!("; `{}` has no duckdb package: {PYTHON_HELP}", self.python)
        } else {
            String::new()
        };
        Err(Error::Engine(format!(
            "`{}` stopped answering while using DuckDB `{}`; it said: {}{help}",
            self.python,
            self.database.display(),
            said.trim()
        )))
    }

    /// Run queries, each after its own setup; failures are answers, not errors.
    ///
    /// # Errors
    /// [`Error::Engine`] when the runner stops answering.
    pub fn query(&mut self, queries: &[Query]) -> Result<Vec<Answer>> {
        let list: Vec<Value> = queries.iter().map(|q| json!({"setup": q.setup, "sql": q.sql})).collect();
        let reply = self.request(&json!({"op": "query", "queries": list}))?;
        if !reply.ok {
            return Err(Error::Engine(format!("DuckDB: {}", reply.error.unwrap_or_default())));
        }
        Ok(reply.answers)
    }

    /// Run independent lists of queries, each on a connection of its own (its
    /// own variables), several at a time; failures are answers, not errors.
    /// Outside a transaction only.
    ///
    /// # Errors
    /// [`Error::Engine`] when the runner stops answering.
    pub fn query_groups(&mut self, groups: &[Vec<Query>]) -> Result<Vec<Vec<Answer>>> {
        let list: Vec<Vec<Value>> =
            groups.iter().map(|g| g.iter().map(|q| json!({"setup": q.setup, "sql": q.sql})).collect()).collect();
        let reply = self.request(&json!({"op": "groups", "groups": list}))?;
        if !reply.ok || reply.groups.len() != groups.len() {
            return Err(Error::Engine(format!("DuckDB: {}", reply.error.unwrap_or_else(|| "answers missing".into()))));
        }
        Ok(reply.groups)
    }

    /// Run `steps` in one transaction. When one fails, DuckDB rolls back and
    /// nothing of the transaction remains.
    ///
    /// # Errors
    /// [`Error::Engine`] naming the statement that failed (its `about`, or its
    /// first line) and DuckDB's message.
    pub fn transaction(&mut self, steps: &[Step]) -> Result<()> {
        self.transaction_in_parts(steps, steps.len().max(1), &mut |_, _| {})
    }

    /// As [`Session::transaction`], sending `per_request` statements at a time
    /// and reporting `(done, total)` statements to `progress` between them; the
    /// transaction is one all the same. No steps: no transaction (nothing is written).
    ///
    /// # Errors
    /// As [`Session::transaction`].
    pub fn transaction_in_parts(
        &mut self,
        steps: &[Step],
        per_request: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<()> {
        progress(0, steps.len());
        if steps.is_empty() {
            return Ok(());
        }
        self.expect_ok(&json!({"op": "begin"}), &[])?;
        let mut done = 0;
        for part in steps.chunks(per_request.max(1)) {
            let statements: Vec<&str> = part.iter().map(|s| s.sql.as_str()).collect();
            self.expect_ok(&json!({"op": "execute", "statements": statements}), part)?;
            done += part.len();
            progress(done, steps.len());
        }
        self.expect_ok(&json!({"op": "commit"}), &[])
    }

    fn expect_ok(&mut self, request: &Value, steps: &[Step]) -> Result<()> {
        let reply = self.request(request)?;
        if reply.ok {
            return Ok(());
        }
        let error = reply.error.unwrap_or_default();
        let what = match reply.index.and_then(|i| steps.get(i)) {
            Some(Step { about: Some(about), .. }) => about.clone(),
            Some(Step { sql, .. }) => format!("`{}`", sql.lines().next().unwrap_or_default()),
            None => "the transaction".into(),
        };
        Err(Error::Engine(format!(
            "DuckDB refused {what}: {error}\nnothing was applied: the transaction was rolled back"
        )))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Close the database (rolling back what is unfinished); a runner that
        // closed it cleanly waits for the command's next session.
        let Some(mut worker) = self.worker.take() else { return };
        if worker.request(&json!({"op": "close"})).is_some_and(|r| r.ok) {
            if let Ok(mut idle) = IDLE.lock() {
                if idle.is_none() {
                    *idle = Some(worker);
                }
            }
        }
    }
}

/// Functions and macros stored in the database under the name of a function of
/// DuckDB or of a loaded extension (the `system` catalog: `getvariable`,
/// `list_contains`, `veil_hash`, …), as `(schema, name, type)`. An unqualified
/// call in a secure view finds them first, in every session: a macro
/// `main.veil_hash(v, k, s) AS v` shows every hashed column as it is.
const SHADOWING_SQL: &str = "SELECT DISTINCT f.schema_name, f.function_name, f.function_type \
     FROM duckdb_functions() f WHERE f.database_name = current_database() \
     AND lower(f.function_name) IN (SELECT lower(function_name) FROM duckdb_functions() WHERE database_name = 'system') \
     ORDER BY ALL";

/// Refuse a database holding functions named like DuckDB's or veil's own
/// ([`SHADOWING_SQL`]): secure views over it cannot be vouched for. `what` says
/// what is refused (e.g. `nothing was applied`).
///
/// # Errors
/// [`Error::Input`] naming each function and the statement that drops it;
/// [`Error::Engine`] when the catalog cannot be read.
pub fn refuse_shadowing(session: &mut Session, what: &str) -> Result<()> {
    let answers = session.query(&[Query { setup: Vec::new(), sql: SHADOWING_SQL.into() }])?;
    let Some(answer) = answers.first().filter(|a| a.ok) else {
        return Err(Error::Engine("DuckDB: cannot read duckdb_functions()".into()));
    };
    if answer.rows.is_empty() {
        return Ok(());
    }
    use veil_host::targets::Target as _;
    let t = veil_host::targets::DuckDb { extension: None };
    let text = crate::monitor::text;
    let found: Vec<String> = answer
        .rows
        .iter()
        .map(|row| {
            let (schema, name, kind) = (text(row.first()), text(row.get(1)), text(row.get(2)));
            let drop = if kind == "table_macro" { "DROP MACRO TABLE" } else { "DROP MACRO" };
            format!("  `{schema}.{name}` ({kind}): {drop} {}.{};", t.quote_ident(&schema), t.quote_ident(&name))
        })
        .collect();
    Err(Error::Input(format!(
        "`{}` holds {} function(s) named like a function of DuckDB or of the veil extension, which the secure \
         views call: an unqualified call finds them first, in every session (a macro `veil_hash` returning its \
         input would show every hashed value):\n{}\ndrop them (or rename them) and run again; {what}",
        session.database().display(),
        found.len(),
        found.join("\n")
    )))
}

/// An answer as an aligned text table.
pub fn table(answer: &Answer) -> String {
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = answer.rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = answer.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        format!("{}\n", padded.join(" | ").trim_end())
    };
    let mut out = line(&answer.columns);
    out.push_str(&format!("{}\n", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(&format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" }));
    out
}

/// Check that `sql` is one query (SELECT, WITH, VALUES, …) and nothing else:
/// `veil query` refuses DDL, DML, `ATTACH`, `COPY`, `INSTALL`, `LOAD`, `SET`,
/// `PRAGMA`, `CALL`, data-modifying CTEs and several statements. (It also opens
/// the database read-only with file access off, whatever this check lets by.)
///
/// ```
/// use veil_cli::duckdb::only_a_query;
/// assert!(only_a_query("WITH c AS (SELECT * FROM secure.customers) SELECT count(*) FROM c").is_ok());
/// assert!(only_a_query("DROP VIEW secure.customers").is_err());
/// assert!(only_a_query("SELECT 1; DROP VIEW secure.customers").is_err());
/// ```
///
/// # Errors
/// [`Error::Usage`] saying what was given and what is accepted.
pub fn only_a_query(sql: &str) -> Result<()> {
    use sqlparser::ast::{Statement, Visit, Visitor};
    use sqlparser::dialect::DuckDbDialect;
    use sqlparser::parser::Parser;

    struct Statements(usize);
    impl Visitor for Statements {
        type Break = ();
        fn pre_visit_statement(&mut self, _: &Statement) -> std::ops::ControlFlow<()> {
            self.0 += 1;
            std::ops::ControlFlow::Continue(())
        }
    }

    const ACCEPTED: &str = "veil query runs a single query (SELECT, WITH … SELECT, VALUES, …)";
    let statements = Parser::parse_sql(&DuckDbDialect {}, sql)
        .map_err(|e| Error::Usage(format!("{ACCEPTED}; this does not parse as one: {e}")))?;
    match statements.as_slice() {
        [query @ Statement::Query(_)] => {
            let mut nested = Statements(0);
            let _ = query.visit(&mut nested);
            if nested.0 > 1 {
                return Err(Error::Usage(format!("{ACCEPTED}; this one also changes data (INSERT, UPDATE or DELETE)")));
            }
            Ok(())
        }
        [other] => {
            let text = other.to_string();
            let verb: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            Err(Error::Usage(format!("{ACCEPTED}, not `{verb} …`")))
        }
        [] => Err(Error::Usage(format!("{ACCEPTED}; none given"))),
        many => Err(Error::Usage(format!("{ACCEPTED}, not {} statements", many.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass() {
        for sql in [
            "SELECT * FROM secure.customers",
            "select email from secure.customers where customer_id = 1;",
            "WITH c AS (SELECT * FROM secure.customers) SELECT count(*) FROM c",
            "VALUES (1), (2)",
            "SELECT 1 UNION ALL SELECT 2 ORDER BY 1",
            "(SELECT 1)",
            "SELECT * EXCLUDE (ssn) FROM secure.customers",
        ] {
            assert!(only_a_query(sql).is_ok(), "{sql}: {:?}", only_a_query(sql).err());
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for sql in [
            "DROP VIEW secure.patients",
            "CREATE OR REPLACE VIEW secure.customers AS SELECT * FROM main.customers",
            "ATTACH '/tmp/other.duckdb' AS other",
            "COPY main.customers TO '/tmp/out.csv'",
            "INSTALL httpfs",
            "LOAD httpfs",
            "SET enable_external_access = true",
            "SET VARIABLE veil_user = 'carol'",
            "RESET VARIABLE veil_user",
            "PRAGMA table_info('customers')",
            "CALL pragma_version()",
            "INSERT INTO veil.user_groups VALUES ('kim', 'Legal Team')",
            "UPDATE main.customers SET email = NULL",
            "DELETE FROM veil.user_attributes",
            "SELECT 1; DROP VIEW secure.customers",
            "SELECT 1; SELECT 2",
            "",
            ";",
            "-- nothing",
            "DETACH other",
            "CHECKPOINT",
            "BEGIN TRANSACTION",
            "EXPORT DATABASE '/tmp/x'",
            "SELEC 1",
        ] {
            let err = only_a_query(sql).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("veil query runs a single query"), "{sql:?} was accepted");
        }
    }
}
