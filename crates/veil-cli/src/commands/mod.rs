//! One module per `veil` command: its arguments (with the help text) and its run.
//! What several commands share (the project's inputs, binding options, the
//! DuckDB connection, output formats) is here.

pub mod apply;
pub mod bench;
pub mod bind;
pub mod check;
pub mod diff;
pub mod discover;
pub mod explain;
pub mod monitor;
pub mod plan;
pub mod query;
pub mod snapshot;
pub mod verify;

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use veil_cli::duckdb::DuckDb;
use veil_cli::load::{load, Inputs, Loaded};
use veil_cli::{Error, Result};
use veil_host::{BindOptions, Mode};

/// The project's inputs: policies, users, and the catalog (dbt or YAML).
#[derive(Args, Clone)]
pub struct Project {
    /// A policy file, or a folder of them (every .yaml/.yml below it).
    #[arg(long, value_name = "PATH")]
    pub policies: PathBuf,
    /// The users file: users, groups, attributes, projects, approvals.
    #[arg(long, value_name = "FILE")]
    pub users: PathBuf,
    /// dbt's target folder (manifest.json; catalog.json for column types).
    #[arg(long, value_name = "DIR")]
    pub dbt_target: Option<PathBuf>,
    /// A catalog YAML file, instead of dbt.
    #[arg(long, value_name = "FILE", conflicts_with = "dbt_target")]
    pub catalog: Option<PathBuf>,
    /// A tag file whose tags are added to the catalog's (repeatable): what
    /// `veil discover` writes, reviewed, beside dbt's own tags.
    #[arg(long = "tags", value_name = "FILE")]
    pub tags: Vec<PathBuf>,
    /// Treat every warning as an error (exit 1): a tag, column, group, user,
    /// attribute or purpose that a policy names but nothing has; a tagged column no
    /// rule of its family reaches; dbt nodes merged. Use it in CI.
    #[arg(long)]
    pub strict: bool,
}

impl Project {
    /// The files to load.
    pub fn inputs(&self) -> Inputs {
        Inputs {
            policies: self.policies.clone(),
            users: self.users.clone(),
            dbt_target: self.dbt_target.clone(),
            catalog: self.catalog.clone(),
            tags: self.tags.clone(),
        }
    }

    /// Load the project, print its warnings; under `--strict` a warning is an error.
    pub fn load(&self) -> Result<Loaded> {
        let loaded = load(&self.inputs())?;
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

/// Whom the views are for, and where they go.
#[derive(Args, Clone)]
pub struct Binding {
    /// Views for one reader only (a masked sandbox), instead of one set of views for all.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The project the reader acts under (with --user).
    #[arg(long, value_name = "PROJECT", requires = "user")]
    pub project: Option<String>,
    /// Key id masks use; the engine resolves it from its keyring, so no key is ever in SQL.
    #[arg(long, default_value = "default", value_name = "ID")]
    pub key_id: String,
    /// Schema of the secure views.
    #[arg(long, default_value = "secure", value_name = "NAME")]
    pub schema: String,
    /// Only this data source (repeatable).
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
}

impl Binding {
    /// The bind options these arguments give.
    pub fn options(&self) -> BindOptions {
        BindOptions {
            mode: match &self.user {
                Some(user) => Mode::Reader { user: user.clone(), project: self.project.clone() },
                None => Mode::Dynamic,
            },
            key_id: self.key_id.clone(),
            secure_schema: self.schema.clone(),
            sources: self.sources.clone(),
        }
    }
}

/// A DuckDB database and how to reach it.
#[derive(Args, Clone)]
pub struct Engine {
    /// The DuckDB database file.
    #[arg(long, value_name = "FILE")]
    pub duckdb: PathBuf,
    /// The veil DuckDB extension.
    #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
    pub extension: PathBuf,
    /// The keyring file (`<key id> = <64 hex digits>` per line).
    #[arg(long, env = "VEIL_KEYRING", value_name = "FILE")]
    pub keyring: PathBuf,
    /// Python interpreter with the `duckdb` package (the one dbt-duckdb uses).
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: String,
    /// How long to wait while another process holds the database (DuckDB allows
    /// one writer or many readers at a time).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub lock_timeout: u64,
}

impl Engine {
    /// The DuckDB runner for this database.
    pub fn runner(&self) -> DuckDb {
        DuckDb {
            lock_timeout: std::time::Duration::from_secs(self.lock_timeout),
            ..DuckDb::new(&self.python, self.duckdb.clone(), self.extension.clone(), self.keyring.clone())
        }
    }
}

/// Where `veil apply` and `veil verify` go: a DuckDB file, or a PostgreSQL database.
#[derive(Args, Clone)]
pub struct ApplyEngine {
    /// The DuckDB database file.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["postgres", "spark"])]
    pub duckdb: Option<PathBuf>,
    /// A PostgreSQL connection URL (postgresql://user@host:port/db) of a superuser or
    /// a role that may create roles; applies in one transaction.
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
    /// The veil DuckDB extension.
    #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
    pub extension: PathBuf,
    /// The keyring file (`<key id> = <64 hex digits>` per line).
    #[arg(long, env = "VEIL_KEYRING", value_name = "FILE")]
    pub keyring: PathBuf,
    /// Python interpreter with the `duckdb` package (the one dbt-duckdb uses).
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: String,
    /// How long to wait while another process holds the DuckDB database.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub lock_timeout: u64,
    /// Make the DuckDB database file if it does not exist (without it, a missing
    /// file is an error, so a mistyped path never yields an empty database).
    #[arg(long, conflicts_with = "postgres")]
    pub create: bool,
}

impl ApplyEngine {
    /// The Spark server of these arguments, if `--spark` was given.
    pub fn spark(&self) -> Result<Option<veil_cli::spark::Spark>> {
        let Some(url) = &self.spark else { return Ok(None) };
        let mut spark = veil_cli::spark::Spark::new(url, &self.spark_user, self.spark_password.clone())?;
        spark.python = self.python.clone();
        Ok(Some(spark))
    }

    /// The DuckDB side of these arguments (an error without `--duckdb`).
    pub fn duckdb(&self) -> Result<Engine> {
        Ok(Engine {
            duckdb: self
                .duckdb
                .clone()
                .ok_or_else(|| Error::Usage("give --duckdb FILE, --postgres URL or --spark URL".into()))?,
            extension: self.extension.clone(),
            keyring: self.keyring.clone(),
            python: self.python.clone(),
            lock_timeout: self.lock_timeout,
        })
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
    /// The veil DuckDB extension (loaded to open the database as veil does).
    #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
    pub extension: PathBuf,
    /// Python interpreter with the `duckdb` package.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    pub python: String,
}

impl SnapshotReader {
    /// The snapshot a `veil diff`/`veil snapshot` argument names.
    pub fn snapshot(&self, arg: &str) -> Result<veil_monitor::Snapshot> {
        veil_cli::monitor::snapshot_from_arg(arg, |path| {
            DuckDb::new(&self.python, path.to_path_buf(), self.extension.clone(), PathBuf::new())
        })
    }
}
