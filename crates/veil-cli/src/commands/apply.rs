//! `veil apply`: bind and execute, in DuckDB, PostgreSQL or Spark, all or nothing.

use std::process::ExitCode;

use serde_json::json;
use veil_cli::access::ACCESS_TABLE;
use veil_cli::duckdb::{Access, DuckDb};
use veil_cli::load::Loaded;
use veil_cli::{pg, Error, Result};
use veil_host::targets::postgres as target;
use veil_host::{BindOptions, StatementKind};

use super::{pretty_json, ApplyEngine, Binding, Format, Project, Reached, Selector};

/// Generate the bindings and execute them in a DuckDB database (--duckdb), in
/// PostgreSQL (--postgres URL: roles, grants, keys) or in Spark (--spark URL;
/// see docs/targets.md).
///
/// With --dry-run nothing changes: veil checks every input against the
/// database as an apply would, then prints what would change since the last
/// apply (readers gaining or losing a source, columns shown differently, row
/// filters) and the statements it would run. Exit codes: 0, or with
/// --exit-code 5 when something would change (1, 2 and 3 keep their meanings).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    #[command(flatten)]
    binding: Binding,
    #[command(flatten)]
    selector: Selector,
    #[command(flatten)]
    engine: ApplyEngine,
    /// PostgreSQL: where PUBLIC or a reader may create objects in a schema that
    /// matters (veil's, the secure views', the readers' search path, e.g. `public`
    /// before PostgreSQL 15), revoke that in the apply's transaction instead of
    /// refusing the database.
    #[arg(long)]
    revoke_public_create: bool,
    /// Spark: the UDF jar (scripts/build-spark) as the Thrift server reads it, for
    /// FF1 and tokens.
    #[arg(long, value_name = "URI", default_value = veil_host::targets::spark::UDF_JAR)]
    udf_jar: String,
    /// Spark: a folder the Thrift server and its executors can read, for the derived
    /// keys' file (readable by veil's user only, removed after the apply).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    key_dir: std::path::PathBuf,
    /// Change nothing: say what would change and which statements would run (DuckDB).
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: exit 5 when something would change (access, or a secure view
    /// to write), 0 when nothing would (for CI).
    #[arg(long, requires = "dry_run")]
    exit_code: bool,
    /// With --dry-run: print every statement in full, not one line each.
    #[arg(long, requires = "dry_run")]
    show_sql: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// The exit code of `veil apply --dry-run --exit-code` when something would change.
pub const CHANGES_PENDING: u8 = 5;

/// Run `veil apply`.
pub fn run(args: Args) -> Result<ExitCode> {
    let reached = args.engine.reach()?;
    if args.revoke_public_create && !matches!(reached, Reached::Postgres(_)) {
        return Err(Error::Usage("--revoke-public-create is for PostgreSQL".into()));
    }
    if let Reached::DuckDb(db) = &reached {
        db.open_ahead(if args.dry_run { Access::Read } else { Access::Write { create: args.engine.create } }, &[]);
    }
    let loaded = args.project.load()?;
    let options = args.binding.options_for(args.selector.narrow(&loaded, &args.binding.sources)?)?;
    match reached {
        Reached::Postgres(_) | Reached::Spark(_) if args.dry_run => Err(Error::Usage(
            "--dry-run reaches DuckDB for now; for PostgreSQL or Spark review `veil bind --engine postgres|spark`"
                .into(),
        )),
        Reached::Postgres(url) => postgres(&args, &loaded, &options, &url),
        Reached::Spark(spark) => spark_apply(&args, &loaded, &options, &spark),
        Reached::DuckDb(db) if args.dry_run => dry_run(&args, &loaded, &options, &db),
        Reached::DuckDb(db) => duckdb(&args, &loaded, &options, &db),
    }
}

fn duckdb(args: &Args, loaded: &Loaded, options: &BindOptions, db: &DuckDb) -> Result<ExitCode> {
    eprintln!("applying to {} ...", db.database.display());
    let applied = veil_cli::apply::duckdb(
        &args.project.inputs()?,
        &loaded.engine,
        options,
        db,
        args.engine.create,
        &mut veil_cli::progress::reporter("apply", "statements"),
    )?;
    let sources = if options.sources.is_empty() { loaded.engine.catalog().len() } else { options.sources.len() };
    match args.format {
        Format::Json => println!(
            "{}",
            json!({
                "engine": "duckdb", "database": db.database, "views": applied.views,
                "changed_views": applied.changed_views, "schema": options.secure_schema, "sources": sources,
                "statements": applied.statements, "snapshot_sources": applied.snapshot_sources,
                "snapshot_written": applied.snapshot_written,
            })
        ),
        Format::Table => {
            let how = match applied.statements {
                0 => "nothing written: the database already holds this policy".to_string(),
                n => format!("in one transaction of {n} statements"),
            };
            println!(
                "applied: {} secure views ({} created or replaced, the others already as bound) in schema `{}` for \
                 {sources} data sources, {how}",
                applied.views, applied.changed_views, options.secure_schema
            );
            if let Some(n) = applied.snapshot_sources {
                let verb = if applied.snapshot_written { "recorded" } else { "unchanged" };
                println!("{verb}: catalog snapshot of {n} sources in {}", veil_cli::monitor::SNAPSHOT_TABLE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn spark_apply(
    args: &Args,
    loaded: &Loaded,
    options: &BindOptions,
    spark: &veil_cli::spark::Spark,
) -> Result<ExitCode> {
    let jar = udf_jar_uri(&args.udf_jar);
    let keyring = args.engine.keyring()?;
    eprintln!("applying to Spark {}:{} as {} ...", spark.host, spark.port, spark.user);
    let applied = veil_cli::spark::apply(&loaded.engine, options, spark, &keyring, &jar, &args.key_dir)?;
    match args.format {
        Format::Json => println!(
            "{}",
            json!({
                "engine": "spark", "views": applied.views, "schema": options.secure_schema, "keys": applied.keys,
                "generation": applied.generation, "statements": applied.statements,
            })
        ),
        Format::Table => println!(
            "applied: {} secure views in schema `{}`, {} derived keys, facts generation {}, in {} statements",
            applied.views, options.secure_schema, applied.keys, applied.generation, applied.statements
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// A local path as a `file://` URI (absolute), anything with a scheme as given.
fn udf_jar_uri(jar: &str) -> String {
    if jar.contains("://") {
        return jar.to_string();
    }
    let path = std::path::Path::new(jar);
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", absolute.display())
}

fn dry_run(args: &Args, loaded: &Loaded, options: &BindOptions, db: &DuckDb) -> Result<ExitCode> {
    let plan = veil_cli::apply::duckdb_dry_run(&args.project.inputs()?, &loaded.engine, options, db)?;
    match args.format {
        Format::Json => println!("{}", pretty_json(&plan)),
        Format::Table => {
            println!("dry run: nothing was changed in {}", db.database.display());
            if !plan.recorded {
                println!("(no record of an earlier apply in {}: every reader's access counts as new)", ACCESS_TABLE);
            }
            if plan.changes.is_empty() {
                println!("access: no reader gains or loses a source; every column and row filter stays as it is");
            } else {
                println!("access: {} change(s)", plan.changes.len());
                for change in &plan.changes {
                    println!("  {change}");
                }
            }
            println!(
                "statements: {} in one transaction ({} secure views to create or replace, the others already as bound)",
                plan.statements.len(),
                plan.views
            );
            for sql in &plan.statements {
                if args.show_sql {
                    println!("{sql}\n");
                } else {
                    println!("  {}", one_line(sql));
                }
            }
        }
    }
    // A view to write is a change even when access stays the same (a changed base
    // table, a view replaced by hand since the last apply).
    if args.exit_code && (!plan.changes.is_empty() || plan.views > 0) {
        return Ok(ExitCode::from(CHANGES_PENDING));
    }
    Ok(ExitCode::SUCCESS)
}

/// A statement's first line, shortened to 120 characters.
fn one_line(sql: &str) -> String {
    let line = sql.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("--")).unwrap_or_default();
    let short: String = line.chars().take(120).collect();
    if short.len() < line.len() || sql.trim().lines().count() > 1 {
        format!("{short} …")
    } else {
        short
    }
}

fn postgres(args: &Args, loaded: &Loaded, options: &BindOptions, url: &str) -> Result<ExitCode> {
    let bindings = target::bind(&loaded.engine, options)?;
    let master = veil_cli::keyring::read(&args.engine.keyring()?, &options.key_id)?;
    let keys: Vec<_> = target::key_scopes(&loaded.engine, options)?
        .into_iter()
        .map(|scope| {
            let key = pg::derive(&master, &scope);
            (scope, key)
        })
        .collect();
    let statements: Vec<String> =
        bindings.statements.iter().filter(|s| s.kind != StatementKind::Comment).map(|s| s.sql.clone()).collect();
    eprintln!("applying {} statements and {} derived keys to PostgreSQL ...", statements.len(), keys.len());
    let exposure = exposure(&loaded.engine, options)?;
    pg::apply(url, &statements, &options.key_id, &keys, &exposure, args.revoke_public_create)?;
    let readers = loaded.engine.directory().users().count();
    match args.format {
        Format::Json => println!(
            "{}",
            json!({"engine": "postgres", "views": bindings.views.len(), "schema": options.secure_schema, "readers": readers, "statements": statements.len()})
        ),
        Format::Table => println!(
            "applied: {} secure views in schema `{}` for {readers} readers; keys stored in veil.keys",
            bindings.views.len(),
            options.secure_schema,
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// What `veil apply --postgres` (and `veil verify --postgres`) inspects for these bindings.
pub fn exposure(engine: &veil_policy::Engine, options: &BindOptions) -> Result<pg::Exposure> {
    Ok(pg::Exposure {
        reader_roles: target::reader_roles(engine),
        users: engine.directory().users().map(|u| u.name.clone()).collect(),
        secure_schema: options.secure_schema.clone(),
        base_tables: target::base_tables(engine, options)?,
    })
}
