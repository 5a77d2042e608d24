//! One module per `veil` command: its arguments (with the help text) and its run.
//! What several commands share (the project's inputs, binding options, the
//! DuckDB connection, output formats) is here.

pub mod apply;
pub mod bench;
pub mod bind;
pub mod check;
pub mod completions;
pub mod diff;
pub mod discover;
pub mod explain;
pub mod keygen;
pub mod monitor;
pub mod plan;
pub mod query;
pub mod report;
pub mod snapshot;
pub mod test;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::{Args, ValueEnum};
use veil_cli::config::Config;
use veil_cli::duckdb::DuckDb;
use veil_cli::load::{load, Inputs, Loaded};
use veil_cli::{locate, Error, Result};
use veil_host::{BindOptions, Mode};

/// The `--config` file given on the command line ([`set_config_file`]).
static CONFIG_FILE: OnceLock<Option<PathBuf>> = OnceLock::new();
/// The config, once read.
static CONFIG: OnceLock<Config> = OnceLock::new();

/// Remember `--config` (main calls this once, before dispatching).
pub fn set_config_file(file: Option<PathBuf>) {
    let _ = CONFIG_FILE.set(file);
}

/// The project config: `--config`, else the nearest `veil.yml` from the current
/// folder up, else none.
///
/// # Errors
/// An unreadable or invalid config file.
pub fn config() -> Result<&'static Config> {
    if let Some(config) = CONFIG.get() {
        return Ok(config);
    }
    let explicit = CONFIG_FILE.get().and_then(Option::as_deref);
    let loaded = Config::discover(explicit)?;
    Ok(CONFIG.get_or_init(|| loaded))
}

/// The error for an input neither a flag nor veil.yml names.
fn missing(what: &str, flag: &str, key: &str) -> Error {
    let config = config().map(Config::describe).unwrap_or_default();
    Error::Usage(format!(
        "no {what}: give {flag}, or run veil in a project whose veil.yml says `{key}` (config: {config}; see docs/config.md)"
    ))
}

/// The project's inputs: policies, users, and the catalog (dbt or YAML).
/// Each defaults to what veil.yml says.
#[derive(Args, Clone)]
pub struct Project {
    /// A policy file, or a folder of them (every .yaml/.yml below it) [default: veil.yml's `policies`].
    #[arg(long, value_name = "PATH")]
    pub policies: Option<PathBuf>,
    /// The users: veil's YAML, a SCIM 2.0 export (JSON), CSV, or a folder of
    /// them [default: veil.yml's `users`].
    #[arg(long, value_name = "PATH")]
    pub users: Option<PathBuf>,
    /// dbt's target folder (manifest.json; catalog.json for column types)
    /// [default: the dbt project's, from veil.yml or dbt_project.yml].
    #[arg(long, value_name = "DIR")]
    pub dbt_target: Option<PathBuf>,
    /// A catalog YAML file, instead of dbt.
    #[arg(long, value_name = "FILE", conflicts_with = "dbt_target")]
    pub catalog: Option<PathBuf>,
    /// A tag file whose tags are added to the catalog's (repeatable): what
    /// `veil discover` writes, reviewed, beside dbt's own tags [default: veil.yml's `tags`].
    #[arg(long = "tags", value_name = "FILE")]
    pub tags: Vec<PathBuf>,
    /// Treat every warning as an error (exit 1): a tag, column, group, user,
    /// attribute or purpose that a policy names but nothing has; a tagged column no
    /// rule of its family reaches; dbt nodes merged. Use it in CI.
    #[arg(long)]
    pub strict: bool,
}

impl Project {
    /// The files to load: flags first, then veil.yml.
    ///
    /// # Errors
    /// [`Error::Usage`] when neither names the policies, the users or a catalog.
    pub fn inputs(&self) -> Result<Inputs> {
        let config = config()?;
        let policies = self
            .policies
            .clone()
            .or_else(|| config.policies.clone())
            .ok_or_else(|| missing("policies", "--policies PATH", "policies: PATH"))?;
        let users = self
            .users
            .clone()
            .or_else(|| config.users.clone())
            .ok_or_else(|| missing("users", "--users PATH", "users: PATH"))?;
        let (dbt_target, catalog) = match (&self.dbt_target, &self.catalog) {
            (None, None) if config.catalog.is_some() => (None, config.catalog.clone()),
            (None, None) => (config.dbt_target_dir()?, None),
            (dbt, catalog) => (dbt.clone(), catalog.clone()),
        };
        if dbt_target.is_none() && catalog.is_none() {
            return Err(missing(
                "catalog",
                "--dbt-target <dbt project>/target or --catalog FILE",
                "dbt: {project-dir: DIR}` or `catalog: FILE",
            ));
        }
        let tags = if self.tags.is_empty() { config.tags.clone() } else { self.tags.clone() };
        Ok(Inputs { policies, users, dbt_target, catalog, tags })
    }

    /// Load the project, print its warnings; under `--strict` a warning is an error.
    pub fn load(&self) -> Result<Loaded> {
        let loaded = load(&self.inputs()?)?;
        let warnings = loaded.warnings();
        for w in &warnings {
            eprintln!("{w}");
        }
        let untyped = !loaded.untyped_columns.is_empty();
        if untyped {
            eprintln!(
                "warning: {} column(s) have no type (run `dbt docs generate` for catalog.json): {}",
                loaded.untyped_columns.len(),
                loaded.untyped_columns.join(", ")
            );
        }
        if self.strict && (untyped || !warnings.is_empty()) {
            let count = warnings.len() + usize::from(untyped);
            return Err(Error::Invalid(format!("{count} warning(s), and --strict makes warnings errors")));
        }
        Ok(loaded)
    }
}

/// dbt node selection: which data sources a command works on.
#[derive(Args, Clone, Default)]
pub struct Selector {
    /// dbt nodes to work on, in dbt's syntax (`tag:PII`, `path:models/marts`,
    /// `+customers`, `resource_type:seed`, `source:crm+`, …; docs/dbt.md):
    /// only their data sources. Repeatable; words are a union, `a,b` an intersection.
    #[arg(long, short = 's', value_name = "SELECTOR", num_args = 1..)]
    pub select: Vec<String>,
    /// dbt nodes to leave out, in the same syntax.
    #[arg(long, value_name = "SELECTOR", num_args = 1..)]
    pub exclude: Vec<String>,
}

impl Selector {
    /// The data sources selected, sorted; `None` when nothing was selected.
    ///
    /// # Errors
    /// [`Error::Usage`] for a selector that does not parse, a selection
    /// without a dbt project, or one that reaches no data source.
    pub fn sources(&self, loaded: &Loaded) -> Result<Option<Vec<String>>> {
        let selection = veil_dbt::Selection { select: self.select.clone(), exclude: self.exclude.clone() };
        if selection.is_empty() {
            return Ok(None);
        }
        let Some(nodes) = &loaded.dbt_nodes else {
            return Err(Error::Usage(
                "--select and --exclude need a dbt project (manifest.json), not --catalog".into(),
            ));
        };
        let ids = veil_dbt::select(nodes, &selection).map_err(|e| Error::Usage(e.to_string()))?;
        let mut sources: Vec<String> = nodes
            .iter()
            .filter(|n| ids.binary_search(&n.unique_id).is_ok())
            .filter_map(|n| n.data_source.clone())
            .collect();
        sources.sort();
        sources.dedup();
        if sources.is_empty() {
            let mut said: Vec<String> = self.select.iter().map(|s| format!("--select {s}")).collect();
            said.extend(self.exclude.iter().map(|s| format!("--exclude {s}")));
            return Err(Error::Usage(format!(
                "{} selects no data source ({} dbt node(s) matched; tests, exposures and ephemeral models have no table)",
                said.join(" "),
                ids.len()
            )));
        }
        Ok(Some(sources))
    }

    /// The data sources to work on: those `--source` names, or those selected.
    ///
    /// # Errors
    /// As [`Selector::sources`]; [`Error::Usage`] when both are given.
    pub fn narrow(&self, loaded: &Loaded, sources: &[String]) -> Result<Vec<String>> {
        match self.sources(loaded)? {
            Some(_) if !sources.is_empty() => Err(Error::Usage("give --source or --select/--exclude, not both".into())),
            Some(selected) => Ok(selected),
            None => Ok(sources.to_vec()),
        }
    }
}

/// Whom the views are for, and where they go.
#[derive(Args, Clone)]
pub struct Binding {
    /// Views for one reader only (a masked sandbox), instead of one set of views for all.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The project the reader acts under (with --user).
    #[arg(long, value_name = "PROJECT", requires = "user")]
    pub project: Option<String>,
    /// Key id masks use; the engine resolves it from its keyring, so no key is ever
    /// in SQL [default: veil.yml's `key-id`, else `default`].
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Schema of the secure views [default: veil.yml's `schema`, else `secure`].
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
    /// Only this data source (repeatable).
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
}

/// Key id and secure schema: the flag, else veil.yml, else `default` and `secure`.
pub fn key_and_schema(key_id: Option<&str>, schema: Option<&str>) -> Result<(String, String)> {
    let config = config()?;
    let key_id = key_id.map(str::to_owned).or_else(|| config.key_id.clone()).unwrap_or_else(|| "default".into());
    let schema = schema.map(str::to_owned).or_else(|| config.schema.clone()).unwrap_or_else(|| "secure".into());
    Ok((key_id, schema))
}

impl Binding {
    /// The bind options these arguments give, for `sources` (what `--source` or
    /// `--select` chose).
    ///
    /// # Errors
    /// An invalid veil.yml.
    pub fn options_for(&self, sources: Vec<String>) -> Result<BindOptions> {
        let (key_id, secure_schema) = key_and_schema(self.key_id.as_deref(), self.schema.as_deref())?;
        Ok(BindOptions {
            mode: match &self.user {
                Some(user) => Mode::Reader { user: user.clone(), project: self.project.clone() },
                None => Mode::Dynamic,
            },
            key_id,
            secure_schema,
            sources,
        })
    }
}

/// The DuckDB database: the flag, else veil.yml, else the dbt profile's.
pub(crate) fn duckdb_file(given: Option<&Path>, dbt_target: Option<&str>) -> Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    config()?.duckdb_path(dbt_target)?.ok_or_else(|| {
        missing(
            "DuckDB database",
            "--duckdb FILE",
            "engines: {duckdb: {path: FILE}}` (or a dbt profile whose output has `type: duckdb",
        )
    })
}

/// The keyring: the flag or VEIL_KEYRING, else veil.yml.
fn keyring_file(given: Option<&Path>) -> Result<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(|| config().ok().and_then(|c| c.keyring.clone()))
        .ok_or_else(|| missing("keyring", "--keyring FILE (or VEIL_KEYRING)", "keyring: FILE"))
}

/// The extension and the Python: flags, else veil.yml, else found (docs/config.md).
pub(crate) fn extension_and_python(extension: Option<&Path>, python: Option<&str>) -> Result<(PathBuf, String)> {
    let config = config()?;
    let extension = locate::extension(extension.or(config.duckdb_extension.as_deref()))?;
    Ok((extension, locate::python(python.or(config.duckdb_python.as_deref()))))
}

/// A DuckDB database and how to reach it.
#[derive(Args, Clone)]
pub struct Engine {
    /// The DuckDB database file [default: veil.yml's, else the dbt profile's DuckDB path].
    #[arg(long, value_name = "FILE")]
    pub duckdb: Option<PathBuf>,
    /// dbt's target: the output of the dbt profile whose DuckDB path to use
    /// [default: veil.yml's `dbt.target`, DBT_TARGET, the profile's target].
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// The veil DuckDB extension [default: veil.yml's, VEIL_EXTENSION, else
    /// beside the veil binary or in its repository's dist/].
    #[arg(long, value_name = "FILE")]
    pub extension: Option<PathBuf>,
    /// The keyring file (`<key id> = <64 hex digits>` per line) [default: veil.yml's `keyring`].
    #[arg(long, env = "VEIL_KEYRING", value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Python interpreter with the `duckdb` package [default: veil.yml's,
    /// VEIL_PYTHON, the one dbt runs under, python3].
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    /// How long to wait while another process holds the database (DuckDB allows
    /// one writer or many readers at a time).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub lock_timeout: u64,
}

impl Engine {
    /// The DuckDB runner for this database.
    ///
    /// # Errors
    /// [`Error::Usage`] when no database or keyring is named anywhere;
    /// [`Error::Input`] when the extension is nowhere to be found.
    pub fn runner(&self) -> Result<DuckDb> {
        let database = duckdb_file(self.duckdb.as_deref(), self.target.as_deref())?;
        let keyring = keyring_file(self.keyring.as_deref())?;
        let (extension, python) = extension_and_python(self.extension.as_deref(), self.python.as_deref())?;
        let db = DuckDb {
            lock_timeout: std::time::Duration::from_secs(self.lock_timeout),
            ..DuckDb::new(&python, database, extension, keyring)
        };
        db.warm();
        Ok(db)
    }
}

/// Engines `veil apply`, `verify` and `test` reach.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// A DuckDB file.
    Duckdb,
    /// A PostgreSQL database.
    Postgres,
    /// A Spark Thrift server running veil's guard (apply and verify).
    Spark,
}

/// Where `veil apply`, `verify` and `test` go: a DuckDB file, a PostgreSQL
/// database or a Spark Thrift server.
#[derive(Args, Clone)]
pub struct ApplyEngine {
    /// The engine [default: --duckdb, --postgres or --spark if given, else
    /// veil.yml's `engine`, else duckdb].
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<EngineKind>,
    /// DuckDB: the database, extension, keyring and Python (the keyring serves
    /// every engine).
    #[command(flatten)]
    pub duck: Engine,
    /// A PostgreSQL connection URL (postgresql://user@host:port/db) of a superuser or
    /// a role that may create roles; applies in one transaction [default: veil.yml's].
    #[arg(long, value_name = "URL", conflicts_with = "duckdb")]
    pub postgres: Option<String>,
    /// A Spark Thrift server (jdbc:hive2://HOST:PORT[/DATABASE]) running veil's
    /// guard; veil logs in as --spark-user (see docs/targets.md).
    #[arg(long, value_name = "URL", conflicts_with_all = ["duckdb", "postgres"])]
    pub spark: Option<String>,
    /// Spark: the user veil logs in as, an admin of the guard (spark.veil.admins).
    #[arg(long, default_value = "veil_admin", value_name = "USER")]
    pub spark_user: String,
    /// Spark: that user's password, when the server authenticates (CUSTOM or LDAP).
    #[arg(long, env = "VEIL_SPARK_PASSWORD", hide_env_values = true, value_name = "PASSWORD")]
    pub spark_password: Option<String>,
    /// Make the DuckDB database file if it does not exist (without it, a missing
    /// file is an error, so a mistyped path never yields an empty database).
    #[arg(long, conflicts_with_all = ["postgres", "spark"])]
    pub create: bool,
}

/// Where an apply or a verification goes, resolved.
pub enum Reached {
    /// A DuckDB database.
    DuckDb(DuckDb),
    /// A PostgreSQL connection URL.
    Postgres(String),
    /// A Spark Thrift server.
    Spark(Box<veil_cli::spark::Spark>),
}

impl ApplyEngine {
    /// Whether a flag names an engine (`--engine`, `--duckdb`, `--postgres`, `--spark`).
    pub fn named(&self) -> bool {
        self.engine.is_some() || self.duck.duckdb.is_some() || self.postgres.is_some() || self.spark.is_some()
    }

    /// Which engine: the one a flag names, else veil.yml's.
    fn kind(&self) -> Result<EngineKind> {
        if self.spark.is_some() {
            return Ok(EngineKind::Spark);
        }
        if self.postgres.is_some() {
            return Ok(EngineKind::Postgres);
        }
        if self.duck.duckdb.is_some() {
            return Ok(EngineKind::Duckdb);
        }
        if let Some(kind) = self.engine {
            return Ok(kind);
        }
        match config()?.engine.as_deref() {
            None | Some("duckdb") => Ok(EngineKind::Duckdb),
            Some("postgres") => Ok(EngineKind::Postgres),
            Some("spark") => Ok(EngineKind::Spark),
            Some(other) => Err(Error::Usage(format!(
                "veil.yml names engine `{other}`; apply, verify and test reach `duckdb`, `postgres` or `spark` (other engines: veil bind --engine)"
            ))),
        }
    }

    /// The engine reached: DuckDB (with its runner), PostgreSQL (its URL) or Spark.
    ///
    /// # Errors
    /// As [`Engine::runner`]; [`Error::Usage`] when PostgreSQL or Spark has no URL.
    pub fn reach(&self) -> Result<Reached> {
        match self.kind()? {
            EngineKind::Postgres => {
                let url = self.postgres.clone().or_else(|| config().ok().and_then(|c| c.postgres_url.clone()));
                url.map(Reached::Postgres)
                    .ok_or_else(|| missing("PostgreSQL URL", "--postgres URL", "engines: {postgres: {url: URL}}"))
            }
            EngineKind::Spark => {
                let url = self.spark.as_deref().ok_or_else(|| {
                    Error::Usage("no Spark Thrift server: give --spark jdbc:hive2://HOST:PORT".into())
                })?;
                let mut spark = veil_cli::spark::Spark::new(url, &self.spark_user, self.spark_password.clone())?;
                spark.python = locate::python(self.duck.python.as_deref().or(config()?.duckdb_python.as_deref()));
                Ok(Reached::Spark(Box::new(spark)))
            }
            EngineKind::Duckdb => Ok(Reached::DuckDb(self.duck.runner()?)),
        }
    }

    /// The keyring file.
    ///
    /// # Errors
    /// [`Error::Usage`] when no keyring is named anywhere.
    pub fn keyring(&self) -> Result<PathBuf> {
        keyring_file(self.duck.keyring.as_deref())
    }
}

/// Output format.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Table,
    /// For machines.
    Json,
}

/// Write `text` to `output`, or print it.
pub fn write_or_print(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => write_file(path, text),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Write `text` to `path`; the error names the path.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::Usage(format!("cannot write `{}`: {e}", path.display())))
}

/// Pretty JSON of `value` (printing never fails on veil's own types).
pub fn pretty_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// How `veil diff` and `veil snapshot` reach a DuckDB database.
#[derive(Args, Clone)]
pub struct SnapshotReader {
    /// The veil DuckDB extension (loaded to open the database as veil does)
    /// [default: as for veil apply].
    #[arg(long, value_name = "FILE")]
    pub extension: Option<PathBuf>,
    /// Python interpreter with the `duckdb` package [default: as for veil apply].
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
}

impl SnapshotReader {
    /// The snapshot a `veil diff`/`veil snapshot` argument names.
    pub fn snapshot(&self, arg: &str) -> Result<veil_monitor::Snapshot> {
        veil_cli::monitor::snapshot_from_arg(arg, |path| {
            let (extension, python) = extension_and_python(self.extension.as_deref(), self.python.as_deref())?;
            Ok(DuckDb::new(&python, path.to_path_buf(), extension, PathBuf::new()))
        })
    }
}
