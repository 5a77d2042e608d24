//! `veil report`: who may read what, as one static HTML page.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use veil_cli::Result;

use super::{pretty_json, write_or_print, Format, Project, Selector};

/// Write one static HTML page of who may read what and how each column is
/// shown to each reader, filterable by reader, group and data source, with the
/// reasons of `veil explain` on click. The page needs no server and loads
/// nothing from elsewhere; open it in any browser.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    #[command(flatten)]
    selector: Selector,
    /// Write the page here [default: print it].
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format: the HTML page (table), or its data as JSON.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil report`.
pub fn run(args: Args) -> Result<ExitCode> {
    let loaded = args.project.load()?;
    let inputs = args.project.inputs()?;
    let sources = args.selector.sources(&loaded)?.unwrap_or_default();
    let mut named = BTreeMap::new();
    named.insert("policies".to_string(), inputs.policies.display().to_string());
    named.insert("users".to_string(), inputs.users.display().to_string());
    if let Some(dbt) = &inputs.dbt_target {
        named.insert("dbt".to_string(), dbt.display().to_string());
    }
    if let Some(catalog) = &inputs.catalog {
        named.insert("catalog".to_string(), catalog.display().to_string());
    }
    let report = veil_cli::report::build(&loaded.engine, &sources, named)?;
    let text = match args.format {
        Format::Json => pretty_json(&report) + "\n",
        Format::Table => veil_cli::report::render(&report)?,
    };
    write_or_print(args.output.as_deref(), &text)?;
    if let Some(path) = &args.output {
        eprintln!(
            "wrote {}: {} readers x {} data sources; open it in a browser",
            path.display(),
            report.readers.len(),
            report.sources.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
