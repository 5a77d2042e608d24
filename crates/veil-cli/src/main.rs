//! `veil`: tag-driven data access enforcement from the command line.
//!
//! Exit codes: 0 success; 1 invalid inputs, denied or failed verification;
//! 2 usage errors; 3 the engine failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use veil_cli::duckdb::DuckDb;
use veil_cli::load::{load, Inputs, Loaded};
use veil_cli::{pg as postgres, verify, Error, Result};
use veil_host::targets::postgres as postgres_target;
use veil_host::targets::DuckDb as DuckDbTarget;
use veil_host::{bind, BindOptions, Mode};

/// veil enforces tag-driven data access policies inside the engines that hold the data.
///
/// Policies (YAML) are written against tags on data (from dbt) and facts about
/// users (groups, attributes). veil decides who may read each table and how each
/// value is shown, then generates secure views, masks and row filters for the
/// engine, and proves they work.
///
/// A typical run, from a dbt project built with dbt-duckdb:
///
///   veil check  --policies policies --users users.yaml --dbt-target target
///   veil plan   --policies policies --users users.yaml --dbt-target target
///   veil apply  --policies policies --users users.yaml --dbt-target target --duckdb target/shop.duckdb --keyring keyring.txt
///   veil verify --policies policies --users users.yaml --dbt-target target --duckdb target/shop.duckdb --keyring keyring.txt
///
/// The keyring (`<key id> = <64 hex digits>` per line) can also be named by VEIL_KEYRING.
#[derive(Parser)]
#[command(name = "veil", version, about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Project {
    /// A policy file, or a folder of them (every .yaml/.yml below it).
    #[arg(long, value_name = "PATH")]
    policies: PathBuf,
    /// The users file: users, groups, attributes, projects, approvals.
    #[arg(long, value_name = "FILE")]
    users: PathBuf,
    /// dbt's target folder (manifest.json; catalog.json for column types).
    #[arg(long, value_name = "DIR")]
    dbt_target: Option<PathBuf>,
    /// A catalog YAML file, instead of dbt.
    #[arg(long, value_name = "FILE", conflicts_with = "dbt_target")]
    catalog: Option<PathBuf>,
    /// A tag file whose tags are added to the catalog's (repeatable): what
    /// `veil discover` writes, reviewed, beside dbt's own tags.
    #[arg(long = "tags", value_name = "FILE")]
    tags: Vec<PathBuf>,
    /// Treat every warning as an error (exit 1): a tag, column, group, user,
    /// attribute or purpose that a policy names but nothing has; a tagged column no
    /// rule of its family reaches; dbt nodes merged. Use it in CI.
    #[arg(long)]
    strict: bool,
}

#[derive(Args, Clone)]
struct Binding {
    /// Views for one reader only (a masked sandbox), instead of one set of views for all.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The project the reader acts under (with --user).
    #[arg(long, value_name = "PROJECT", requires = "user")]
    project: Option<String>,
    /// Key id masks use; the engine resolves it from its keyring, so no key is ever in SQL.
    #[arg(long, default_value = "default", value_name = "ID")]
    key_id: String,
    /// Schema of the secure views.
    #[arg(long, default_value = "secure", value_name = "NAME")]
    schema: String,
    /// Only this data source (repeatable).
    #[arg(long = "source", value_name = "SOURCE")]
    sources: Vec<String>,
}

#[derive(Args, Clone)]
struct Engine {
    /// The DuckDB database file.
    #[arg(long, value_name = "FILE")]
    duckdb: PathBuf,
    /// The veil DuckDB extension.
    #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
    extension: PathBuf,
    /// The keyring file (`<key id> = <64 hex digits>` per line).
    #[arg(long, env = "VEIL_KEYRING", value_name = "FILE")]
    keyring: PathBuf,
    /// Python interpreter with the `duckdb` package (the one dbt-duckdb uses).
    #[arg(long, default_value = "python3", value_name = "PATH")]
    python: String,
    /// How long to wait while another process holds the database (DuckDB allows
    /// one writer or many readers at a time).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    lock_timeout: u64,
}

/// Where `veil apply` applies: a DuckDB file, or a PostgreSQL database.
#[derive(Args, Clone)]
struct ApplyEngine {
    /// The DuckDB database file.
    #[arg(long, value_name = "FILE", required_unless_present = "postgres")]
    duckdb: Option<PathBuf>,
    /// A PostgreSQL connection URL (postgresql://user@host:port/db) of a superuser or
    /// a role that may create roles; applies in one transaction.
    #[arg(long, value_name = "URL", conflicts_with = "duckdb")]
    postgres: Option<String>,
    /// The veil DuckDB extension.
    #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
    extension: PathBuf,
    /// The keyring file (`<key id> = <64 hex digits>` per line).
    #[arg(long, env = "VEIL_KEYRING", value_name = "FILE")]
    keyring: PathBuf,
    /// Python interpreter with the `duckdb` package (the one dbt-duckdb uses).
    #[arg(long, default_value = "python3", value_name = "PATH")]
    python: String,
    /// How long to wait while another process holds the DuckDB database.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    lock_timeout: u64,
    /// Make the DuckDB database file if it does not exist (without it, a missing
    /// file is an error, so a mistyped path never yields an empty database).
    #[arg(long, conflicts_with = "postgres")]
    create: bool,
}

impl ApplyEngine {
    fn duckdb(&self) -> Result<Engine> {
        Ok(Engine {
            duckdb: self.duckdb.clone().ok_or_else(|| Error::Usage("give --duckdb FILE or --postgres URL".into()))?,
            extension: self.extension.clone(),
            keyring: self.keyring.clone(),
            python: self.python.clone(),
            lock_timeout: self.lock_timeout,
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate policies, users and catalog; print warnings. Exit 1 on any error
    /// (and, with --strict, on any warning).
    ///
    /// Warnings name every tag, column, group, user, attribute, purpose or data
    /// source a policy uses that nothing has (with the nearest known name), mask
    /// rules that reach no column, and tagged columns that no rule of their tag
    /// family reaches. Tags match exactly; column names match ignoring case.
    Check {
        #[command(flatten)]
        project: Project,
    },
    /// Who may read what: one row per data source, readers allowed and denied.
    Plan {
        #[command(flatten)]
        project: Project,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Explain, in words, what one reader gets from one data source and why.
    Explain {
        #[command(flatten)]
        project: Project,
        /// The reader.
        #[arg(long)]
        user: String,
        /// The data source, e.g. `main.customers`.
        #[arg(long)]
        source: String,
        /// The project the reader acts under.
        #[arg(long)]
        project_name: Option<String>,
        /// Output format (json: the decision with every policy's part, and the reader's plan).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Generate the SQL that enforces the policies (secure views, reader facts).
    Bind {
        #[command(flatten)]
        project: Project,
        #[command(flatten)]
        binding: Binding,
        /// Target engine.
        #[arg(long, value_enum, default_value_t = TargetName::Duckdb)]
        target: TargetName,
        /// What `LOAD` names in the SQL (a path to the extension, or `veil` if installed).
        #[arg(long, default_value = "veil")]
        load: String,
        /// Write the SQL here instead of printing it.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Warehouse targets: the slim JS UDF bundles to embed (scripts/build-wasm).
        #[arg(long, value_name = "DIR", default_value = "dist/js/slim")]
        udfs: PathBuf,
        /// BigQuery: the Cloud Storage folder holding the slim bundles (dist/js/slim),
        /// loaded as library files by the UDFs for FF1, tokens and samples, e.g.
        /// gs://bucket/veil (the keyed hash is inline and needs none).
        #[arg(long, value_name = "GS_URI")]
        udf_library: Option<String>,
        /// BigQuery: also row access policies on the base tables, so a table shows
        /// rows only to entitled readers (filtered as in the views) and to the
        /// --rap-grantee principals, whatever dataset access others hold.
        #[arg(long)]
        row_access_policies: bool,
        /// BigQuery: a principal that reads every row of the base tables under
        /// --row-access-policies (dbt's service account, owners), e.g.
        /// serviceAccount:dbt@project.iam.gserviceaccount.com. Repeatable.
        #[arg(long, value_name = "PRINCIPAL", requires = "row_access_policies")]
        rap_grantee: Vec<String>,
        /// Snowflake and Databricks: a principal that reads the base tables unmasked
        /// and unfiltered, because veil's policies attach to the tables themselves:
        /// the role (Snowflake, IS_ROLE_IN_SESSION) or user, service principal or
        /// group (Databricks) that dbt builds with, so models still read their
        /// inputs. Repeatable. Never a reader's role.
        #[arg(long, value_name = "PRINCIPAL", alias = "exempt-role", alias = "exempt-principal")]
        exempt: Vec<String>,
        /// SingleStore: the host part of the accounts the views are granted to
        /// ('<reader>'@'<host>'), e.g. 10.0.% for one network.
        #[arg(long, value_name = "HOST", default_value = veil_host::targets::singlestore::ACCOUNT_HOST)]
        account_host: String,
        /// SingleStore: the Wasm modules (veil.wasm, veil-lite.wasm) and their WITs
        /// to embed (scripts/build-wasm).
        #[arg(long, value_name = "DIR", default_value = "dist/singlestore")]
        module: PathBuf,
    },
    /// Generate the bindings and execute them in a DuckDB database (--duckdb) or
    /// in PostgreSQL (--postgres URL: roles, grants, keys; see docs/targets.md).
    Apply {
        #[command(flatten)]
        project: Project,
        #[command(flatten)]
        binding: Binding,
        #[command(flatten)]
        engine: ApplyEngine,
        /// PostgreSQL: where PUBLIC or a reader may create objects in a schema that
        /// matters (veil's, the secure views', the readers' search path, e.g. `public`
        /// before PostgreSQL 15), revoke that in the apply's transaction instead of
        /// refusing the database.
        #[arg(long, requires = "postgres")]
        revoke_public_create: bool,
    },
    /// Query every secure view as every reader and compare with the plan.
    ///
    /// Checks that unentitled readers are refused, that each reader's rows and
    /// values equal those of a view specialised to that reader, and that masked
    /// columns never show a raw value. Any mismatch is printed with the reader,
    /// source and column, and the exit code is 1.
    Verify {
        #[command(flatten)]
        project: Project,
        #[command(flatten)]
        engine: ApplyEngine,
        /// Key id the views were applied with.
        #[arg(long, default_value = "default", value_name = "ID")]
        key_id: String,
        /// Schema of the secure views.
        #[arg(long, default_value = "secure", value_name = "NAME")]
        schema: String,
        /// Only this data source's view (repeatable; what `apply --source` bound).
        #[arg(long = "source", value_name = "SOURCE")]
        sources: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run one query in DuckDB as a reader and print the rows (what that reader sees).
    ///
    /// The database is opened read-only (other readers may hold it at the same time;
    /// a writer is waited for), and only a single query is accepted.
    Query {
        #[command(flatten)]
        engine: Engine,
        /// The reader (`SET VARIABLE veil_user`).
        #[arg(long = "as", value_name = "USER")]
        reader: String,
        /// The project the reader acts under (`SET VARIABLE veil_project`).
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// Output format (json: columns and rows).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// One query (SELECT, WITH, VALUES, …), e.g. `SELECT * FROM secure.customers`;
        /// anything else is refused, and the database is opened read-only.
        sql: String,
    },
    /// What changed between two catalog snapshots.
    ///
    /// Each side is `dbt:DIR` (a dbt target folder or manifest.json), `catalog:FILE`
    /// (catalog YAML), `snapshot:FILE` (from `veil snapshot`), `duckdb:FILE` (what the
    /// database has now, from information_schema) or `applied:FILE` (the snapshot
    /// `veil apply`/`veil monitor` stored in the database). Without a prefix the kind
    /// is guessed from the path. Exit code 0 either way; read the output.
    Diff {
        /// The earlier snapshot.
        old: String,
        /// The later snapshot.
        new: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        reader: SnapshotReader,
    },
    /// Write a catalog snapshot (JSON) of dbt, a catalog file or a database, for `veil diff`.
    Snapshot {
        /// What to snapshot (as for `veil diff`).
        of: String,
        /// Write it here instead of printing it.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        reader: SnapshotReader,
    },
    /// Detect schema changes since the last apply, lock what is new, bind again what changed.
    ///
    /// New tables and views are tagged `New` and get no secure view (nobody reads them);
    /// new columns are tagged `New` and read as NULL by everyone. Both stay locked until the
    /// catalog (dbt or --catalog) gives them tags of their own; the next run then applies
    /// their policies. Only changed sources are bound again, in one transaction with the
    /// new snapshot (table veil.catalog_snapshot). A transform job can ask for a run with
    /// `INSERT INTO veil.monitor_requests (requested_by) VALUES ('my job')`, answered by
    /// `veil monitor --watch` within --poll seconds. See docs/monitoring.md.
    Monitor {
        #[command(flatten)]
        project: Project,
        #[command(flatten)]
        engine: Engine,
        /// Key id masks use.
        #[arg(long, default_value = "default", value_name = "ID")]
        key_id: String,
        /// Schema of the secure views.
        #[arg(long, default_value = "secure", value_name = "NAME")]
        schema: String,
        /// Keep running: a full check every SECONDS (stop with Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
        /// With --watch: look for rows in veil.monitor_requests every SECONDS and run at once.
        #[arg(long, value_name = "SECONDS", requires = "watch")]
        poll: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Find sensitive data: sample each data source inside DuckDB (at most --sample
    /// rows, repeatable), classify every column by its values and name (e-mail,
    /// phone, SSN, card, IBAN, IP, MAC, URL, date of birth, postal code, person
    /// name), and write a tag file of entity, category and sensitivity tags with
    /// the evidence (Discovered.Entity.*, Discovered.Category.*,
    /// Discovered.Sensitivity.*). Review it, then give it to every command with
    /// --tags so policies on those tags apply. No value leaves the engine but the
    /// samples read by veil; none is written out.
    Discover {
        /// dbt's target folder (manifest.json; catalog.json for column types).
        #[arg(long, value_name = "DIR")]
        dbt_target: Option<PathBuf>,
        /// A catalog YAML file, instead of dbt.
        #[arg(long, value_name = "FILE", conflicts_with = "dbt_target")]
        catalog: Option<PathBuf>,
        /// The DuckDB database file.
        #[arg(long, value_name = "FILE")]
        duckdb: PathBuf,
        /// The veil DuckDB extension.
        #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
        extension: PathBuf,
        /// Python interpreter with the `duckdb` package (the one dbt-duckdb uses).
        #[arg(long, default_value = "python3", value_name = "PATH")]
        python: String,
        /// Rows sampled per data source, at most.
        #[arg(long, default_value_t = 200, value_name = "ROWS")]
        sample: usize,
        /// Only this data source (repeatable).
        #[arg(long = "source", value_name = "SOURCE")]
        sources: Vec<String>,
        /// A classification framework (YAML) instead of veil's default (docs/discovery.md).
        #[arg(long, value_name = "FILE")]
        framework: Option<PathBuf>,
        /// Write the tag file here (else print what was found).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Output format of the summary.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Measure every enforcement function on generated data, beside plain SHA-256.
    ///
    /// Prints nanoseconds per value, values per second and the ratio to a plain
    /// SHA-256 digest of the same values, measured interleaved in the same run (so
    /// the ratio means something on a busy machine).
    Bench {
        /// How many generated values each function processes per repetition.
        #[arg(long, default_value_t = 200_000)]
        values: usize,
        /// Repetitions per function; the best is reported.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// How `veil diff` and `veil snapshot` reach a DuckDB database.
#[derive(Args, Clone)]
struct SnapshotReader {
    /// The veil DuckDB extension (loaded to open the database as veil does).
    #[arg(long, default_value = "dist/veil.duckdb_extension", value_name = "FILE")]
    extension: PathBuf,
    /// Python interpreter with the `duckdb` package.
    #[arg(long, default_value = "python3", value_name = "PATH")]
    python: String,
}

impl SnapshotReader {
    fn snapshot(&self, arg: &str) -> Result<veil_monitor::Snapshot> {
        veil_cli::monitor::snapshot_from_arg(arg, |path| {
            DuckDb::new(&self.python, path.to_path_buf(), self.extension.clone(), PathBuf::new())
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people.
    Table,
    /// For machines.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum TargetName {
    /// DuckDB with the veil extension.
    Duckdb,
    /// PostgreSQL: roles, grants, SECURITY DEFINER view functions, the DDL lock.
    Postgres,
    /// Snowflake: masking and row access policies, roles, grants, JS UDFs.
    Snowflake,
    /// Databricks (Unity Catalog): SQL UDF column masks and row filters, grants.
    Databricks,
    /// BigQuery: secure views (to authorize), grants on them, JS UDFs from library files.
    Bigquery,
    /// SingleStore: secure views, grants on them, Wasm UDFs (older canonical ABI).
    Singlestore,
}

/// Write generated SQL to `output`, or print it.
fn write_sql(output: Option<&std::path::Path>, sql: &str) -> Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, sql).map_err(|e| Error::Usage(format!("cannot write `{}`: {e}", path.display())))
        }
        None => {
            print!("{sql}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn inputs(p: &Project) -> Inputs {
    Inputs {
        policies: p.policies.clone(),
        users: p.users.clone(),
        dbt_target: p.dbt_target.clone(),
        catalog: p.catalog.clone(),
        tags: p.tags.clone(),
    }
}

fn load_project(p: &Project) -> Result<Loaded> {
    let loaded = load(&inputs(p))?;
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
    if p.strict && (untyped || !warnings.is_empty()) {
        let count = warnings.len() + usize::from(untyped);
        return Err(Error::Invalid(format!("{count} warning(s), and --strict makes warnings errors")));
    }
    Ok(loaded)
}

fn options(b: &Binding) -> BindOptions {
    BindOptions {
        mode: match &b.user {
            Some(user) => Mode::Reader { user: user.clone(), project: b.project.clone() },
            None => Mode::Dynamic,
        },
        key_id: b.key_id.clone(),
        secure_schema: b.schema.clone(),
        sources: b.sources.clone(),
    }
}

/// `DROP VIEW` for every view in the secure schema that the new bindings do not
/// make (DuckDB compares names ignoring case).
fn duckdb(e: &Engine) -> DuckDb {
    DuckDb {
        lock_timeout: std::time::Duration::from_secs(e.lock_timeout),
        ..DuckDb::new(&e.python, e.duckdb.clone(), e.extension.clone(), e.keyring.clone())
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Check { project } => {
            let loaded = load_project(&project)?;
            let catalog = loaded.engine.catalog();
            let warnings = loaded.warnings().len() + usize::from(!loaded.untyped_columns.is_empty());
            let counts = format!(
                "{} policies, {} users, {} data sources",
                loaded.engine.policies().len(),
                loaded.engine.directory().users().count(),
                catalog.len()
            );
            if warnings == 0 {
                println!("ok: {counts}, no warnings");
            } else {
                println!(
                    "valid, with {warnings} warning(s) above: {counts}; a warning can mean data shown unmasked, so read them (--strict makes them errors; use it in CI)"
                );
            }
        }
        Command::Plan { project, format } => {
            let loaded = load_project(&project)?;
            let rows = veil_cli::verify::access_matrix(&loaded.engine)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default()),
                Format::Table => {
                    println!("{:<28} {:<40} masked or filtered for", "data source", "may read");
                    for r in &rows {
                        println!("{:<28} {:<40} {}", r.source, join_or_none(&r.allowed), join_or_none(&r.restricted));
                    }
                }
            }
        }
        Command::Explain { project, user, source, project_name, format } => {
            let loaded = load_project(&project)?;
            let subject = loaded.engine.directory().subject(&user, project_name.as_deref())?;
            match format {
                Format::Json => {
                    let explanation = loaded.engine.explanation(&subject, &source)?;
                    println!("{}", serde_json::to_string_pretty(&explanation).unwrap_or_default());
                }
                Format::Table => println!("{}", loaded.engine.explain(&subject, &source)?),
            }
        }
        Command::Bind { target, row_access_policies: true, .. } if !matches!(target, TargetName::Bigquery) => {
            return Err(Error::Usage("--row-access-policies is for --target bigquery".into()));
        }
        Command::Bind { target, exempt, .. }
            if !exempt.is_empty() && !matches!(target, TargetName::Snowflake | TargetName::Databricks) =>
        {
            return Err(Error::Usage(
                "--exempt is for --target snowflake or databricks, where policies attach to the base tables; views leave base tables to their owners".into(),
            ));
        }
        Command::Bind { project, binding, target: TargetName::Postgres, output, .. } => {
            let loaded = load_project(&project)?;
            let sql = postgres_target::bind(&loaded.engine, &options(&binding))?.to_sql();
            write_sql(output.as_deref(), &sql)?;
        }
        Command::Bind { project, binding, target: TargetName::Snowflake, output, udfs, exempt, .. } => {
            let loaded = load_project(&project)?;
            let udfs = veil_host::targets::warehouse::Udfs::load(&udfs)?;
            let sql = veil_host::targets::snowflake::bind(&loaded.engine, &options(&binding), &udfs, &exempt)?.to_sql();
            write_sql(output.as_deref(), &sql)?;
        }
        Command::Bind { project, binding, target: TargetName::Databricks, output, exempt, .. } => {
            let loaded = load_project(&project)?;
            let sql = veil_host::targets::databricks::bind(&loaded.engine, &options(&binding), &exempt)?.to_sql();
            write_sql(output.as_deref(), &sql)?;
        }
        Command::Bind {
            project,
            binding,
            target: TargetName::Bigquery,
            output,
            udf_library,
            row_access_policies,
            rap_grantee,
            udfs,
            ..
        } => {
            let udfs = veil_host::targets::warehouse::Udfs::load(&udfs)?;
            let loaded = load_project(&project)?;
            let mut sql =
                veil_host::targets::bigquery::bind(&loaded.engine, &options(&binding), &udfs, udf_library.as_deref())?
                    .to_sql();
            if row_access_policies {
                for policy in
                    veil_host::targets::bigquery::row_access_policies(&loaded.engine, &options(&binding), &rap_grantee)?
                {
                    sql.push_str(&policy);
                    sql.push_str("\n\n");
                }
            }
            write_sql(output.as_deref(), &sql)?;
        }
        Command::Bind { project, binding, target: TargetName::Singlestore, output, module, account_host, .. } => {
            let module = veil_host::targets::singlestore::Modules::load(&module)?;
            let loaded = load_project(&project)?;
            let sql =
                veil_host::targets::singlestore::bind(&loaded.engine, &options(&binding), &module, &account_host)?
                    .to_sql();
            write_sql(output.as_deref(), &sql)?;
        }
        Command::Bind { project, binding, target: TargetName::Duckdb, load, output, .. } => {
            let loaded = load_project(&project)?;
            let target = DuckDbTarget { extension: Some(load) };
            let sql = bind(&loaded.engine, &target, &options(&binding))?.to_sql();
            write_sql(output.as_deref(), &sql)?;
        }
        Command::Apply { project, binding, engine: target, revoke_public_create } => {
            if let Some(url) = &target.postgres {
                apply_postgres(&project, &binding, &target.keyring, url, revoke_public_create)?;
                return Ok(ExitCode::SUCCESS);
            }
            let engine = target.duckdb()?;
            let loaded = load_project(&project)?;
            eprintln!("applying to {} ...", engine.duckdb.display());
            let applied = veil_cli::apply::duckdb(
                &inputs(&project),
                &loaded.engine,
                &options(&binding),
                &duckdb(&engine),
                target.create,
            )?;
            println!(
                "applied: {} secure views in schema `{}` for {} data sources, in one transaction of {} statements",
                applied.views,
                binding.schema,
                loaded.engine.catalog().len(),
                applied.statements
            );
            if let Some(n) = applied.snapshot_sources {
                println!("recorded: catalog snapshot of {n} sources in {}", veil_cli::monitor::SNAPSHOT_TABLE);
            }
        }
        Command::Verify { project, engine, key_id, schema, sources, format } => {
            let loaded = load_project(&project)?;
            let progress = |done, total| {
                eprint!("\rverifying: {done}/{total} reader x source probes");
                if done == total {
                    eprintln!();
                }
            };
            let report = match &engine.postgres {
                Some(url) => {
                    let mut verifier = postgres::Verifier::connect(url)?;
                    let mut report = verify::run(&loaded.engine, &mut verifier, &key_id, &schema, &sources, progress)?;
                    // What would let a reader run code with veil's rights now (drift since apply).
                    let options = BindOptions {
                        key_id: key_id.clone(),
                        secure_schema: schema.clone(),
                        sources,
                        ..Default::default()
                    };
                    for f in verifier.inspect(&exposure(&loaded.engine, &options)?)? {
                        report.problems.push(verify::Problem {
                            reader: "(any reader)".into(),
                            source: "(database)".into(),
                            column: None,
                            message: format!("{}; fix: {}", f.what, f.fix),
                        });
                    }
                    report
                }
                None => {
                    verify::run(&loaded.engine, &mut duckdb(&engine.duckdb()?), &key_id, &schema, &sources, progress)?
                }
            };
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
                Format::Table => {
                    for p in &report.problems {
                        println!("FAIL {p}");
                    }
                    println!(
                        "{} probes, {} checks, {} problem(s)",
                        report.probes,
                        report.checks,
                        report.problems.len()
                    );
                }
            }
            if !report.problems.is_empty() {
                return Err(Error::Verify(report.problems.len()));
            }
        }
        Command::Query { engine, reader, project, format, sql } => {
            veil_cli::duckdb::only_a_query(&sql)?;
            let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
            let mut setup = vec![format!("SET VARIABLE veil_user = {}", quote(&reader))];
            setup.push(match &project {
                Some(p) => format!("SET VARIABLE veil_project = {}", quote(p)),
                None => "RESET VARIABLE veil_project".into(),
            });
            let answers = duckdb(&engine).query(&[veil_cli::duckdb::Query { setup, sql }])?;
            let answer = answers.into_iter().next().ok_or_else(|| Error::Engine("DuckDB gave no answer".into()))?;
            if !answer.ok {
                return Err(Error::Engine(answer.error.unwrap_or_default()));
            }
            match format {
                Format::Json => println!("{}", json!({"columns": answer.columns, "rows": answer.rows})),
                Format::Table => print!("{}", veil_cli::duckdb::table(&answer)),
            }
        }
        Command::Diff { old, new, format, reader } => {
            let changes = veil_monitor::diff(&reader.snapshot(&old)?, &reader.snapshot(&new)?);
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&changes).unwrap_or_default()),
                Format::Table => print!("{}", changes.to_text()),
            }
        }
        Command::Snapshot { of, output, reader } => {
            let json = reader.snapshot(&of)?.to_json_pretty();
            match output {
                Some(path) => std::fs::write(&path, json + "\n")
                    .map_err(|e| Error::Usage(format!("cannot write `{}`: {e}", path.display())))?,
                None => println!("{json}"),
            }
        }
        Command::Monitor { project, engine, key_id, schema, watch, poll, format } => {
            let options = veil_cli::monitor::Options { secure_schema: schema, key_id };
            let db = duckdb(&engine);
            let once = || -> Result<()> {
                let report = veil_cli::monitor::run_once(&inputs(&project), &db, &options)?;
                match format {
                    Format::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
                    Format::Table => print!("{}", report.to_text()),
                }
                Ok(())
            };
            once()?;
            if let Some(every) = watch {
                // Runs until interrupted (Ctrl-C ends the process; an unfinished run's
                // transaction is rolled back by DuckDB). Errors are reported, not fatal.
                let every = std::time::Duration::from_secs(every.max(1));
                let poll = poll.map(|p| std::time::Duration::from_secs(p.max(1)));
                loop {
                    let started = std::time::Instant::now();
                    while started.elapsed() < every {
                        let step = poll.unwrap_or(every).min(every.saturating_sub(started.elapsed()));
                        std::thread::sleep(step);
                        if poll.is_some() && veil_cli::monitor::requested(&db).unwrap_or(false) {
                            break;
                        }
                    }
                    if let Err(e) = once() {
                        eprintln!("error: {e}");
                    }
                }
            }
        }
        Command::Discover {
            dbt_target,
            catalog,
            duckdb,
            extension,
            python,
            sample,
            sources,
            framework,
            output,
            format,
        } => {
            let catalog = match (dbt_target, catalog) {
                (Some(target), None) => veil_dbt::load(target)?.catalog,
                (None, Some(path)) => veil_policy::Catalog::load(path)?,
                _ => {
                    return Err(Error::Usage(
                        "give --dbt-target <dbt project>/target or --catalog <catalog.yaml>".into(),
                    ))
                }
            };
            let framework = match framework {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| Error::Usage(format!("cannot read framework `{}`: {e}", path.display())))?;
                    veil_policy::Framework::from_yaml_str(&text, &path)?
                }
                None => veil_policy::Framework::default_framework(),
            };
            if sample == 0 {
                return Err(Error::Usage("--sample must be at least 1".into()));
            }
            let origin = duckdb.display().to_string();
            let db = DuckDb::new(&python, duckdb, extension, PathBuf::new());
            let report = veil_cli::discover::discover_duckdb(&db, &catalog, &sources, sample, &framework)?;
            if let Some(path) = &output {
                std::fs::write(path, report.to_tag_file(&origin))
                    .map_err(|e| Error::Usage(format!("cannot write `{}`: {e}", path.display())))?;
            }
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
                Format::Table => {
                    print!("{}", report.to_text());
                    if let Some(path) = &output {
                        println!("wrote {}: review it, then give it to veil with --tags", path.display());
                    }
                }
            }
        }
        Command::Bench { values, repeats, format } => bench(values, repeats, format)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(nobody)".into()
    } else {
        items.join(", ")
    }
}

fn bench(values: usize, repeats: usize, format: Format) -> Result<()> {
    if values == 0 {
        return Err(Error::Usage("--values must be at least 1".into()));
    }
    let results = veil_benches::run_all(values, repeats, |name| eprintln!("measuring {name} ..."));
    match format {
        Format::Table => {
            println!("{:<34} {:>12} {:>14} {:>12}", "function", "ns/value", "values/s", "vs sha256");
            for m in &results {
                println!("{:<34} {:>12.1} {:>14.0} {:>11.2}x", m.name, m.ns_per_value, m.per_second(), m.vs_sha256);
            }
            println!(
                "\n{values} generated values per function, best of {repeats} runs; ratios are to plain SHA-256 in this run."
            );
        }
        Format::Json => {
            for m in &results {
                let line = serde_json::json!({
                    "function": m.name, "values": m.values, "ns_per_value": m.ns_per_value,
                    "values_per_second": m.per_second(), "vs_sha256": m.vs_sha256,
                });
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// What `veil apply --postgres` inspects for these bindings.
fn exposure(engine: &veil_policy::Engine, options: &BindOptions) -> Result<postgres::Exposure> {
    Ok(postgres::Exposure {
        reader_roles: postgres_target::reader_roles(engine),
        users: engine.directory().users().map(|u| u.name.clone()).collect(),
        secure_schema: options.secure_schema.clone(),
        base_tables: postgres_target::base_tables(engine, options)?,
    })
}

fn apply_postgres(
    project: &Project,
    binding: &Binding,
    keyring: &std::path::Path,
    url: &str,
    revoke_create: bool,
) -> Result<()> {
    let loaded = load_project(project)?;
    let options = options(binding);
    let bindings = postgres_target::bind(&loaded.engine, &options)?;
    let master = veil_cli::keyring::read(keyring, &options.key_id)?;
    let keys: Vec<_> = postgres_target::key_scopes(&loaded.engine, &options)?
        .into_iter()
        .map(|scope| {
            let key = postgres::derive(&master, &scope);
            (scope, key)
        })
        .collect();
    let statements: Vec<String> = bindings
        .statements
        .iter()
        .filter(|s| s.kind != veil_host::StatementKind::Comment)
        .map(|s| s.sql.clone())
        .collect();
    eprintln!("applying {} statements and {} derived keys to PostgreSQL ...", statements.len(), keys.len());
    postgres::apply(url, &statements, &options.key_id, &keys, &exposure(&loaded.engine, &options)?, revoke_create)?;
    println!(
        "applied: {} secure views in schema `{}` for {} readers; keys stored in veil.keys",
        bindings.views.len(),
        binding.schema,
        loaded.engine.directory().users().count()
    );
    Ok(())
}
