//! `veil plan`: who may read what.

use std::process::ExitCode;

use veil_cli::Result;

use super::{pretty_json, Format, Project, Selector};

/// Who may read what: one row per data source, readers allowed and denied.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    #[command(flatten)]
    selector: Selector,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil plan`.
pub fn run(args: Args) -> Result<ExitCode> {
    let loaded = args.project.load()?;
    let mut rows = veil_cli::verify::access_matrix(&loaded.engine)?;
    if let Some(selected) = args.selector.sources(&loaded)? {
        rows.retain(|r| selected.binary_search(&r.source).is_ok());
    }
    match args.format {
        Format::Json => println!("{}", pretty_json(&rows)),
        Format::Table => {
            println!("{:<28} {:<40} masked or filtered for", "data source", "may read");
            for r in &rows {
                println!("{:<28} {:<40} {}", r.source, join_or_none(&r.allowed), join_or_none(&r.restricted));
            }
        }
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
