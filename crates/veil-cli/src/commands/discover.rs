//! `veil discover`: find sensitive data inside the engine and write a tag file.

use std::path::PathBuf;
use std::process::ExitCode;

use veil_cli::discover::{dbt::dbt_patch, discover_duckdb, discover_postgres, Discovery};
use veil_cli::duckdb::{Access, DuckDb};
use veil_cli::{Error, Result};
use veil_policy::{Catalog, Framework};

use super::{pretty_json, write_file, Format};

/// How to classify: the framework, user-defined entities, rows per source
/// (shared by `veil discover` and `veil monitor`).
#[derive(clap::Args, Clone)]
pub struct DiscoveryArgs {
    /// Rows sampled per data source, at most.
    #[arg(long, default_value_t = 200, value_name = "ROWS")]
    pub sample: usize,
    /// A classification framework (YAML) instead of veil's default (docs/discovery.md).
    #[arg(long, value_name = "FILE")]
    pub framework: Option<PathBuf>,
    /// User-defined entities (YAML: regex, validator, column-name patterns,
    /// minimum share), checked beside the built-in ones; a file or a folder, repeatable.
    #[arg(long = "entities", value_name = "PATH")]
    pub entities: Vec<PathBuf>,
}

impl DiscoveryArgs {
    /// Load the framework and the entities.
    pub fn discovery(&self) -> Result<Discovery> {
        let framework = match &self.framework {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Usage(format!("cannot read framework `{}`: {e}", path.display())))?;
                Framework::from_yaml_str(&text, path)?
            }
            None => Framework::default_framework(),
        };
        let mut custom = Vec::new();
        for path in &self.entities {
            for entity in veil_policy::load_entities(path)? {
                if custom.iter().any(|c: &veil_core::classify::CustomEntity| c.name == entity.name) {
                    return Err(Error::Usage(format!(
                        "entity `{}` is defined in two --entities files; keep one",
                        entity.name
                    )));
                }
                custom.push(entity);
            }
        }
        Discovery::new(framework, custom, self.sample)
    }
}

/// Find sensitive data: sample each data source inside DuckDB or PostgreSQL (at
/// most --sample rows, repeatable; PostgreSQL by TABLESAMPLE), classify every
/// column by its values and name (e-mail, phone, SSN, card, IBAN, IP, MAC, URL,
/// date of birth, postal code, person name, and --entities of your own), and
/// write a tag file of entity, category and sensitivity tags with the evidence
/// (Discovered.Entity.*, Discovered.Category.*, Discovered.Sensitivity.*).
/// Review it, then give it to every command with --tags so policies on those
/// tags apply; or propose the tags to the dbt project as a patch (--write-dbt).
/// No value leaves the engine but the samples read by veil; none is written out.
#[derive(clap::Args)]
pub struct Args {
    /// dbt's target folder (manifest.json; catalog.json for column types)
    /// [default: the dbt project's, from veil.yml or dbt_project.yml].
    #[arg(long, value_name = "DIR")]
    dbt_target: Option<PathBuf>,
    /// A catalog YAML file, instead of dbt.
    #[arg(long, value_name = "FILE", conflicts_with = "dbt_target")]
    catalog: Option<PathBuf>,
    /// The DuckDB database file [default: veil.yml's, else the dbt profile's DuckDB path].
    #[arg(long, value_name = "FILE")]
    duckdb: Option<PathBuf>,
    /// A PostgreSQL connection URL (postgresql://user@host:port/db) of a role that
    /// may read the tables; sampled in a read-only transaction.
    #[arg(long, value_name = "URL", conflicts_with = "duckdb")]
    postgres: Option<String>,
    /// The veil DuckDB extension [default: as for veil apply].
    #[arg(long, value_name = "FILE")]
    extension: Option<PathBuf>,
    /// Python interpreter with the `duckdb` package [default: as for veil apply].
    #[arg(long, value_name = "PATH")]
    python: Option<String>,
    #[command(flatten)]
    discovery: DiscoveryArgs,
    /// Only this data source (repeatable).
    #[arg(long = "source", value_name = "SOURCE")]
    sources: Vec<String>,
    /// Write the tag file here (else print what was found).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the tags as a patch (unified diff) of the dbt project's
    /// properties files, for review: apply it from the project with `git apply`.
    /// The project itself is never changed.
    #[arg(long, value_name = "FILE")]
    write_dbt: Option<PathBuf>,
    /// The dbt project folder (dbt_project.yml) for --write-dbt; default: the
    /// folder holding --dbt-target, else veil.yml's dbt project.
    #[arg(long, value_name = "DIR", requires = "write_dbt")]
    dbt_project: Option<PathBuf>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil discover`.
pub fn run(args: Args) -> Result<ExitCode> {
    let discovery = args.discovery.discovery()?;
    let config = super::config()?;
    let (dbt_target, catalog) = match (&args.dbt_target, &args.catalog) {
        (None, None) if config.catalog.is_some() => (None, config.catalog.clone()),
        (None, None) => (config.dbt_target_dir()?, None),
        (dbt, catalog) => (dbt.clone(), catalog.clone()),
    };
    let artifacts = match (&dbt_target, &catalog) {
        (Some(target), None) => Some(veil_dbt::load(target)?),
        (None, Some(_)) => None,
        _ => return Err(Error::Usage("give --dbt-target <dbt project>/target or --catalog <catalog.yaml>".into())),
    };
    let catalog = match (&artifacts, &catalog) {
        (Some(a), _) => a.catalog.clone(),
        (None, Some(path)) => Catalog::load(path)?,
        (None, None) => Catalog::default(),
    };
    if let Some(path) = &args.write_dbt {
        refuse_yaml(path)?;
        if artifacts.is_none() {
            return Err(Error::Usage(
                "--write-dbt patches a dbt project: give --dbt-target, or run in a project whose veil.yml names one"
                    .into(),
            ));
        }
    }
    let (report, origin) = match &args.postgres {
        Some(url) => (discover_postgres(url, &catalog, &args.sources, &discovery)?, "PostgreSQL".to_owned()),
        None => {
            let database = super::duckdb_file(args.duckdb.as_deref(), None)?;
            let (extension, python) = super::extension_and_python(args.extension.as_deref(), args.python.as_deref())?;
            let db = DuckDb::new(&python, database.clone(), extension, PathBuf::new());
            let report = discover_duckdb(&mut db.open(Access::Read)?, &catalog, &args.sources, &discovery)?;
            (report, database.display().to_string())
        }
    };
    if let Some(path) = &args.output {
        write_file(path, &report.to_tag_file(&origin))?;
    }
    let patch = match (&args.write_dbt, &artifacts, &dbt_target) {
        (Some(path), Some(artifacts), Some(target)) => {
            let root = match (&args.dbt_project, &config.dbt) {
                (Some(dir), _) => dir.clone(),
                (None, Some(dbt)) if args.dbt_target.is_none() => dbt.project_dir.clone(),
                (None, _) => target.canonicalize().ok().and_then(|t| t.parent().map(PathBuf::from)).unwrap_or_default(),
            };
            let patch = dbt_patch(&root, artifacts, &report.findings)?;
            write_file(path, &patch.to_file())?;
            Some((path, patch))
        }
        _ => None,
    };
    match args.format {
        Format::Json => println!("{}", pretty_json(&report)),
        Format::Table => {
            print!("{}", report.to_text());
            if let Some(path) = &args.output {
                println!("wrote {}: review it, then give it to veil with --tags", path.display());
            }
            if let Some((path, patch)) = &patch {
                for note in &patch.notes {
                    println!("not patched: {note}");
                }
                println!(
                    "wrote {}: tags for {} column(s) in {} dbt file(s); review it, then `git apply` it in the project",
                    path.display(),
                    patch.columns,
                    patch.files.len()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The patch goes to its own file, never over a YAML file (the project's own
/// properties files are only ever changed by whoever applies the patch).
fn refuse_yaml(path: &std::path::Path) -> Result<()> {
    if matches!(path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("yml" | "yaml"))
    {
        return Err(Error::Usage(format!(
            "--write-dbt writes a patch (a unified diff), not YAML: name a .patch file instead of `{}`",
            path.display()
        )));
    }
    Ok(())
}
