//! `veil discover`: find sensitive data inside the engine and write a tag file.

use std::path::PathBuf;
use std::process::ExitCode;

use veil_cli::duckdb::DuckDb;
use veil_cli::{Error, Result};
use veil_policy::{Catalog, Framework};

use super::{pretty_json, write_file, Format};

/// Find sensitive data: sample each data source inside DuckDB (at most --sample
/// rows, repeatable), classify every column by its values and name (e-mail,
/// phone, SSN, card, IBAN, IP, MAC, URL, date of birth, postal code, person
/// name), and write a tag file of entity, category and sensitivity tags with
/// the evidence (Discovered.Entity.*, Discovered.Category.*,
/// Discovered.Sensitivity.*). Review it, then give it to every command with
/// --tags so policies on those tags apply. No value leaves the engine but the
/// samples read by veil; none is written out.
#[derive(clap::Args)]
pub struct Args {
    /// dbt's target folder (manifest.json; catalog.json for column types).
    #[arg(long, value_name = "DIR")]
    dbt_target: Option<PathBuf>,
    /// A catalog YAML file, instead of dbt.
    #[arg(long, value_name = "FILE", conflicts_with = "dbt_target")]
    catalog: Option<PathBuf>,
    /// The DuckDB database file [default: veil.yml's, else the dbt profile's DuckDB path].
    #[arg(long, value_name = "FILE")]
    duckdb: Option<PathBuf>,
    /// The veil DuckDB extension [default: as for veil apply].
    #[arg(long, value_name = "FILE")]
    extension: Option<PathBuf>,
    /// Python interpreter with the `duckdb` package [default: as for veil apply].
    #[arg(long, value_name = "PATH")]
    python: Option<String>,
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
}

/// Run `veil discover`.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { dbt_target, catalog, duckdb, extension, python, sample, sources, framework, output, format } = args;
    let config = super::config()?;
    let (dbt_target, catalog) = match (dbt_target, catalog) {
        (None, None) if config.catalog.is_some() => (None, config.catalog.clone()),
        (None, None) => (config.dbt_target_dir()?, None),
        given => given,
    };
    let catalog = match (dbt_target, catalog) {
        (Some(target), None) => veil_dbt::load(target)?.catalog,
        (None, Some(path)) => Catalog::load(path)?,
        _ => return Err(Error::Usage("give --dbt-target <dbt project>/target or --catalog <catalog.yaml>".into())),
    };
    let duckdb = super::duckdb_file(duckdb.as_deref(), None)?;
    let (extension, python) = super::extension_and_python(extension.as_deref(), python.as_deref())?;
    let framework = match framework {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::Usage(format!("cannot read framework `{}`: {e}", path.display())))?;
            Framework::from_yaml_str(&text, &path)?
        }
        None => Framework::default_framework(),
    };
    if sample == 0 {
        return Err(Error::Usage("--sample must be at least 1".into()));
    }
    let origin = duckdb.display().to_string();
    let db = DuckDb::new(&python, duckdb, extension, PathBuf::new());
    let report = veil_cli::discover::discover_duckdb(&db, &catalog, &sources, sample, &framework)?;
    if let Some(path) = &output {
        write_file(path, &report.to_tag_file(&origin))?;
    }
    match format {
        Format::Json => println!("{}", pretty_json(&report)),
        Format::Table => {
            print!("{}", report.to_text());
            if let Some(path) = &output {
                println!("wrote {}: review it, then give it to veil with --tags", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
