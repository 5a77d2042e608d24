//! `veil bind`: the SQL that enforces the policies, for one engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use veil_cli::{Error, Result};
use veil_host::targets::{bigquery, databricks, postgres, singlestore, snowflake, warehouse, DuckDb};

use super::{write_or_print, Binding, Project};

/// Generate the SQL that enforces the policies (secure views, reader facts).
#[derive(clap::Args)]
pub struct Args {
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
    #[arg(long, value_name = "HOST", default_value = singlestore::ACCOUNT_HOST)]
    account_host: String,
    /// SingleStore: the Wasm modules (veil.wasm, veil-lite.wasm) and their WITs
    /// to embed (scripts/build-wasm).
    #[arg(long, value_name = "DIR", default_value = "dist/singlestore")]
    module: PathBuf,
}

/// The engines `veil bind` writes for.
#[derive(Clone, Copy, ValueEnum)]
pub enum TargetName {
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

/// Run `veil bind`.
pub fn run(args: Args) -> Result<ExitCode> {
    if args.row_access_policies && !matches!(args.target, TargetName::Bigquery) {
        return Err(Error::Usage("--row-access-policies is for --target bigquery".into()));
    }
    if !args.exempt.is_empty() && !matches!(args.target, TargetName::Snowflake | TargetName::Databricks) {
        return Err(Error::Usage(
            "--exempt is for --target snowflake or databricks, where policies attach to the base tables; views leave base tables to their owners".into(),
        ));
    }
    let loaded = args.project.load()?;
    let engine = &loaded.engine;
    let options = args.binding.options();
    let sql = match args.target {
        TargetName::Duckdb => {
            veil_host::bind(engine, &DuckDb { extension: Some(args.load.clone()) }, &options)?.to_sql()
        }
        TargetName::Postgres => postgres::bind(engine, &options)?.to_sql(),
        TargetName::Snowflake => {
            let udfs = warehouse::Udfs::load(&args.udfs)?;
            snowflake::bind(engine, &options, &udfs, &args.exempt)?.to_sql()
        }
        TargetName::Databricks => databricks::bind(engine, &options, &args.exempt)?.to_sql(),
        TargetName::Bigquery => {
            let udfs = warehouse::Udfs::load(&args.udfs)?;
            let mut sql = bigquery::bind(engine, &options, &udfs, args.udf_library.as_deref())?.to_sql();
            if args.row_access_policies {
                for policy in bigquery::row_access_policies(engine, &options, &args.rap_grantee)? {
                    sql.push_str(&policy);
                    sql.push_str("\n\n");
                }
            }
            sql
        }
        TargetName::Singlestore => {
            let modules = singlestore::Modules::load(&args.module)?;
            singlestore::bind(engine, &options, &modules, &args.account_host)?.to_sql()
        }
    };
    write_or_print(args.output.as_deref(), &sql)?;
    Ok(ExitCode::SUCCESS)
}
