//! `veil apply`: bind and execute, in DuckDB or PostgreSQL, all or nothing.

use std::process::ExitCode;

use veil_cli::pg;
use veil_cli::Result;
use veil_host::targets::postgres as target;
use veil_host::{BindOptions, StatementKind};

use super::{ApplyEngine, Binding, Project};

/// Generate the bindings and execute them in a DuckDB database (--duckdb) or
/// in PostgreSQL (--postgres URL: roles, grants, keys; see docs/targets.md).
#[derive(clap::Args)]
pub struct Args {
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
    /// Spark: the UDF jar (scripts/build-spark) as the Thrift server reads it, for
    /// FF1 and tokens.
    #[arg(long, value_name = "URI", default_value = veil_host::targets::spark::UDF_JAR)]
    udf_jar: String,
    /// Spark: a folder the Thrift server and its executors can read, for the derived
    /// keys' file (readable by veil's user only, removed after the apply).
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir())]
    key_dir: std::path::PathBuf,
}

/// Run `veil apply`.
pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(spark) = args.engine.spark()? {
        return spark_apply(&args, &spark);
    }
    match &args.engine.postgres {
        Some(url) => postgres(&args, url)?,
        None => duckdb(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn duckdb(args: &Args) -> Result<()> {
    let engine = args.engine.duckdb()?;
    let loaded = args.project.load()?;
    eprintln!("applying to {} ...", engine.duckdb.display());
    let applied = veil_cli::apply::duckdb(
        &args.project.inputs(),
        &loaded.engine,
        &args.binding.options(),
        &engine.runner(),
        args.engine.create,
        &mut veil_cli::progress::reporter("apply", "statements"),
    )?;
    println!(
        "applied: {} secure views ({} created or replaced, the others already as bound) in schema `{}` for {} data \
         sources, in one transaction of {} statements",
        applied.views,
        applied.changed_views,
        args.binding.schema,
        loaded.engine.catalog().len(),
        applied.statements
    );
    if let Some(n) = applied.snapshot_sources {
        println!("recorded: catalog snapshot of {n} sources in {}", veil_cli::monitor::SNAPSHOT_TABLE);
    }
    Ok(())
}

fn spark_apply(args: &Args, spark: &veil_cli::spark::Spark) -> Result<ExitCode> {
    let loaded = args.project.load()?;
    let options = args.binding.options();
    let jar = udf_jar_uri(&args.udf_jar);
    eprintln!("applying to Spark {}:{} as {} ...", spark.host, spark.port, spark.user);
    let applied = veil_cli::spark::apply(&loaded.engine, &options, spark, &args.engine.keyring, &jar, &args.key_dir)?;
    println!(
        "applied: {} secure views in schema `{}`, {} derived keys, facts generation {}, in {} statements",
        applied.views, args.binding.schema, applied.keys, applied.generation, applied.statements
    );
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

fn postgres(args: &Args, url: &str) -> Result<()> {
    let loaded = args.project.load()?;
    let options = args.binding.options();
    let bindings = target::bind(&loaded.engine, &options)?;
    let master = veil_cli::keyring::read(&args.engine.keyring, &options.key_id)?;
    let keys: Vec<_> = target::key_scopes(&loaded.engine, &options)?
        .into_iter()
        .map(|scope| {
            let key = pg::derive(&master, &scope);
            (scope, key)
        })
        .collect();
    let statements: Vec<String> =
        bindings.statements.iter().filter(|s| s.kind != StatementKind::Comment).map(|s| s.sql.clone()).collect();
    eprintln!("applying {} statements and {} derived keys to PostgreSQL ...", statements.len(), keys.len());
    let exposure = exposure(&loaded.engine, &options)?;
    pg::apply(url, &statements, &options.key_id, &keys, &exposure, args.revoke_public_create)?;
    println!(
        "applied: {} secure views in schema `{}` for {} readers; keys stored in veil.keys",
        bindings.views.len(),
        args.binding.schema,
        loaded.engine.directory().users().count()
    );
    Ok(())
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
