//! `veil`: tag-driven data access enforcement from the command line.
//!
//! Exit codes: 0 success; 1 invalid inputs, denied or failed verification;
//! 2 usage errors; 3 the engine failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use veil_cli::duckdb::DuckDb;
use veil_cli::load::{load, Inputs, Loaded};
use veil_cli::{verify, Error, Result};
use veil_host::target::DuckDb as DuckDbTarget;
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
///   veil apply  --policies policies --users users.yaml --dbt-target target --duckdb target/shop.duckdb
///   veil verify --policies policies --users users.yaml --dbt-target target --duckdb target/shop.duckdb
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
}

#[derive(Subcommand)]
enum Command {
    /// Validate policies, users and catalog; print warnings. Exit 1 on any error.
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
        /// Output format (json: the reader's plan).
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
    },
    /// Generate the bindings and execute them in a DuckDB database.
    Apply {
        #[command(flatten)]
        project: Project,
        #[command(flatten)]
        binding: Binding,
        #[command(flatten)]
        engine: Engine,
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
        engine: Engine,
        /// Key id the views were applied with.
        #[arg(long, default_value = "default", value_name = "ID")]
        key_id: String,
        /// Schema of the secure views.
        #[arg(long, default_value = "secure", value_name = "NAME")]
        schema: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run one query in DuckDB as a reader and print the rows (what that reader sees).
    Query {
        #[command(flatten)]
        engine: Engine,
        /// The reader (`SET VARIABLE veil_user`).
        #[arg(long = "as", value_name = "USER")]
        reader: String,
        /// The project the reader acts under (`SET VARIABLE veil_project`).
        #[arg(long, value_name = "PROJECT")]
        project: Option<String>,
        /// The SQL, e.g. `SELECT * FROM secure.customers`.
        sql: String,
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
    }
}

fn load_project(p: &Project) -> Result<Loaded> {
    let loaded = load(&inputs(p))?;
    for w in loaded.warnings() {
        eprintln!("{w}");
    }
    if !loaded.untyped_columns.is_empty() {
        eprintln!(
            "warning: {} column(s) have no type (run `dbt docs generate` for catalog.json): {}",
            loaded.untyped_columns.len(),
            loaded.untyped_columns.join(", ")
        );
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

fn duckdb(e: &Engine) -> DuckDb {
    DuckDb {
        python: e.python.clone(),
        database: e.duckdb.clone(),
        extension: e.extension.clone(),
        keyring: e.keyring.clone(),
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Check { project } => {
            let loaded = load_project(&project)?;
            let catalog = loaded.engine.catalog();
            println!(
                "ok: {} policies, {} users, {} data sources, {} warning(s)",
                loaded.engine.policies().len(),
                loaded.engine.directory().users().count(),
                catalog.len(),
                loaded.warnings().len()
            );
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
                    let plan = loaded.engine.plan_for(&subject, &source)?;
                    println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
                }
                Format::Table => println!("{}", loaded.engine.explain(&subject, &source)?),
            }
        }
        Command::Bind { project, binding, target: TargetName::Duckdb, load, output } => {
            let loaded = load_project(&project)?;
            let target = DuckDbTarget { extension: Some(load) };
            let sql = bind(&loaded.engine, &target, &options(&binding))?.to_sql();
            match output {
                Some(path) => std::fs::write(&path, sql)
                    .map_err(|e| Error::Usage(format!("cannot write `{}`: {e}", path.display())))?,
                None => print!("{sql}"),
            }
        }
        Command::Apply { project, binding, engine } => {
            let loaded = load_project(&project)?;
            let target = DuckDbTarget { extension: None };
            let bindings = bind(&loaded.engine, &target, &options(&binding))?;
            let statements: Vec<String> = bindings
                .statements
                .iter()
                .filter(|s| s.kind != veil_host::StatementKind::Comment)
                .map(|s| s.sql.clone())
                .collect();
            eprintln!("applying {} statements to {} ...", statements.len(), engine.duckdb.display());
            duckdb(&engine).execute(&statements)?;
            println!(
                "applied: {} secure views in schema `{}` for {} data sources",
                bindings.views.len(),
                binding.schema,
                loaded.engine.catalog().len()
            );
        }
        Command::Verify { project, engine, key_id, schema, format } => {
            let loaded = load_project(&project)?;
            let report = verify::run(&loaded.engine, &duckdb(&engine), &key_id, &schema, |done, total| {
                eprint!("\rverifying: {done}/{total} reader x source probes");
                if done == total {
                    eprintln!();
                }
            })?;
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
        Command::Query { engine, reader, project, sql } => {
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
            print!("{}", veil_cli::duckdb::table(&answer));
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
