//! `veil bind`: the SQL that enforces the policies, for one engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser};
use veil_cli::{locate, Error, Result};
use veil_host::targets::{singlestore, EngineOptions, ENGINES};

use super::{pretty_json, write_or_print, Binding, Format, Project, Selector};

/// Generate the SQL that enforces the policies (secure views, reader facts).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    #[command(flatten)]
    binding: Binding,
    #[command(flatten)]
    selector: Selector,
    /// The engine to generate SQL for [default: veil.yml's `engine`, else duckdb].
    #[arg(long, value_parser = engine_names())]
    engine: Option<String>,
    /// The old name of --engine (dbt's --target names a profile output); says so when used.
    #[arg(long, hide = true, value_parser = engine_names(), conflicts_with = "engine")]
    target: Option<String>,
    /// What `LOAD` names in the SQL (a path to the extension, or `veil` if installed).
    #[arg(long, default_value = "veil")]
    load: String,
    /// Output format: the SQL (table), or its statements as JSON (kind, source, sql).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the SQL here instead of printing it.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Warehouse targets: the slim JS UDF bundles to embed (scripts/build-wasm)
    /// [default: dist/js/slim beside the veil binary or in its repository].
    #[arg(long, value_name = "DIR")]
    udfs: Option<PathBuf>,
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
    /// Snowflake, Databricks and BigQuery: the database (catalog, project) of
    /// veil's own schemas (facts, keys, policies, secure views), so they never land
    /// in whatever database a session uses; by default the data sources' one
    /// (required when they are in several).
    #[arg(long, value_name = "NAME")]
    database: Option<String>,
    /// SingleStore: the host part of the accounts the views are granted to
    /// ('<reader>'@'<host>'), e.g. 10.0.% for one network.
    #[arg(long, value_name = "HOST", default_value = singlestore::ACCOUNT_HOST)]
    account_host: String,
    /// SingleStore: the Wasm modules (veil.wasm, veil-lite.wasm) and their WITs
    /// to embed (scripts/build-wasm) [default: dist/singlestore beside the veil
    /// binary or in its repository].
    #[arg(long, value_name = "DIR")]
    module: Option<PathBuf>,
    /// Spark: the UDF jar (scripts/build-spark) as the Thrift server reads it, for
    /// FF1 and tokens (`CREATE FUNCTION … USING JAR`).
    #[arg(long, value_name = "URI", default_value = veil_host::targets::spark::UDF_JAR)]
    udf_jar: String,
}

/// The engines of veil-host's registry, with what veil makes on each.
fn engine_names() -> PossibleValuesParser {
    PossibleValuesParser::new(ENGINES.iter().map(|e| PossibleValue::new(e.name).help(e.about)))
}

/// Run `veil bind`.
pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(name) = &args.target {
        eprintln!("note: --target is now --engine (`--engine {name}`); dbt's --target names a profile output");
    }
    let name = match args.engine.clone().or(args.target.clone()) {
        Some(name) => name,
        None => super::config()?.engine.clone().unwrap_or_else(|| "duckdb".into()),
    };
    let entry = veil_host::targets::engine(&name).ok_or_else(|| Error::Usage(format!("unknown engine `{name}`")))?;
    // Engine options without a default: given to an engine that does not read them is a mistake.
    let given = [
        ("exempt", !args.exempt.is_empty()),
        ("udf-library", args.udf_library.is_some()),
        ("row-access-policies", args.row_access_policies),
        ("rap-grantee", !args.rap_grantee.is_empty()),
        ("database", args.database.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|(flag, given)| *given && !entry.options.contains(flag)) {
        let takers: Vec<&str> = ENGINES.iter().filter(|e| e.options.contains(flag)).map(|e| e.name).collect();
        return Err(Error::Usage(format!("--{flag} is for --engine {}, not {}", takers.join(" or "), entry.name)));
    }
    let loaded = args.project.load()?;
    let options = args.binding.options_for(args.selector.narrow(&loaded, &args.binding.sources)?)?;
    let engine_options = EngineOptions {
        load: Some(args.load),
        udfs: Some(args.udfs.unwrap_or_else(|| locate::dist(std::path::Path::new("js/slim")))),
        udf_library: args.udf_library,
        row_access_policies: args.row_access_policies.then_some(args.rap_grantee),
        exempt: args.exempt,
        account_host: Some(args.account_host),
        modules: Some(args.module.unwrap_or_else(|| locate::dist(std::path::Path::new("singlestore")))),
        database: args.database,
        udf_jar: Some(args.udf_jar),
    };
    let target = (entry.make)(&loaded.engine, &options, &engine_options)?;
    let bindings = veil_host::bind(&loaded.engine, target.as_ref(), &options)?;
    let text = match args.format {
        Format::Table => bindings.to_sql(),
        Format::Json => {
            let statements: Vec<serde_json::Value> = bindings
                .statements
                .iter()
                .map(|s| {
                    serde_json::json!({"kind": format!("{:?}", s.kind).to_lowercase(), "source": s.source, "sql": s.sql})
                })
                .collect();
            pretty_json(&serde_json::json!({"engine": entry.name, "views": bindings.views, "statements": statements}))
                + "\n"
        }
    };
    write_or_print(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
